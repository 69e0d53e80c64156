"""The worker class (app/gunicorn_worker.py): with several workers, gunicorn's gevent worker
takes one new connection per hub turn; Stagecast's takes as many as one worker does."""

from __future__ import annotations

import pytest
from gunicorn.workers import ggevent

from app.gunicorn_worker import ACCEPT_PER_TURN, GeventWorker


def test_its_servers_take_a_burst_per_turn_whatever_gunicorn_sets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ggevent, "StreamServer", ggevent.StreamServer)  # put back afterwards
    servers = []

    def gunicorns_run(worker: GeventWorker) -> None:
        """What gunicorn's run() does with its servers when ``workers > 1``."""
        server = ggevent.StreamServer(("127.0.0.1", 0), handle=lambda *args: None)
        server.max_accept = 1
        servers.append(server)

    monkeypatch.setattr(ggevent.GeventWorker, "run", gunicorns_run)
    GeventWorker.run(object.__new__(GeventWorker))
    assert [server.max_accept for server in servers] == [ACCEPT_PER_TURN] == [100]


def test_the_shipped_configuration_uses_it() -> None:
    from app import gunicorn_conf

    assert gunicorn_conf.worker_class == "app.gunicorn_worker.GeventWorker"
