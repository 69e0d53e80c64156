"""gunicorn's gevent worker, accepting a burst of connections as fast with several workers as
with one.

With more than one worker, gunicorn's gevent worker sets its server's ``max_accept`` to 1:
one new connection per hub turn. A worker streaming hundreds of runs turns its hub every
10–50 ms, so it took in 20–100 connections a second and a burst waited in the kernel's
accept queue: with 2 workers, 500 streams opened over 1.5 s waited up to 2.7 s before their
request was read, against 4 ms with 1 worker, which keeps gevent's 100
(docs/benchmarks.md, "The distributed start path"). Both workers are woken for every
connection, so taking several per turn does not leave the other one idle.

Loaded by name in gunicorn's master (``worker_class``): it imports only gunicorn and gevent.
"""

from __future__ import annotations

from gevent.server import StreamServer
from gunicorn.workers import ggevent

# gevent's own default, what a single worker uses.
ACCEPT_PER_TURN = 100


class _StreamServer(StreamServer):
    @property
    def max_accept(self) -> int:
        return ACCEPT_PER_TURN

    @max_accept.setter
    def max_accept(self, value: int) -> None:
        """gunicorn's 1 for several workers is ignored."""


class GeventWorker(ggevent.GeventWorker):
    def run(self) -> None:
        # gunicorn's run() makes its servers from this module name; only this worker's
        # process sees the change.
        ggevent.StreamServer = _StreamServer
        super().run()
