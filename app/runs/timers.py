"""A run's timers (its timeout, a disconnected client's grace, forgetting it when finished).

``gevent.spawn_later`` makes a greenlet per timer at once, and most of a run's timers never
fire: a run that ends in time cancels its timeout. A :class:`Later` is only an event-loop
timer until it fires; its greenlet is started then, to run an action that may block.
"""

from __future__ import annotations

from collections.abc import Callable

import gevent


class Later:
    """Runs ``action`` in a greenlet of its own ``seconds`` from now, unless cancelled first."""

    def __init__(self, seconds: float, action: Callable[[], object]) -> None:
        self._action = action
        self._greenlet: gevent.Greenlet | None = None
        self._timer = gevent.get_hub().loop.timer(seconds)
        self._timer.start(self._fire)

    @property
    def running_here(self) -> bool:
        """True inside the action: cancelling would cut the caller short."""
        return self._greenlet is not None and self._greenlet is gevent.getcurrent()

    def _fire(self) -> None:
        # In the hub's own greenlet, which must not block: the action gets a greenlet.
        self._timer.close()
        self._greenlet = gevent.spawn(self._action)

    def cancel(self) -> None:
        """Stop it if it has not fired; end its action if it is running in another greenlet."""
        self._timer.close()
        if self._greenlet is not None and not self.running_here:
            self._greenlet.kill(block=False)
