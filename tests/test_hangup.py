"""app/transport/hangup.py: a client's hang-up is noticed while its stream is silent, once, and a
pipelined request is not taken for one."""

from __future__ import annotations

import gevent
from gevent import socket


def _watch(sock: socket.socket) -> tuple[object, list[int]]:
    from app.transport.hangup import HangupWatch

    calls: list[int] = []
    return HangupWatch(sock, lambda: calls.append(1)), calls


def test_a_peer_that_closes_is_noticed_once() -> None:
    server, client = socket.socketpair()
    watch, calls = _watch(server)
    gevent.sleep(0.05)
    assert calls == [] and not watch.gone  # type: ignore[attr-defined]
    client.close()
    gevent.sleep(0.1)
    assert calls == [1] and watch.gone  # type: ignore[attr-defined]
    watch.stop()  # type: ignore[attr-defined]
    server.close()


def test_bytes_from_the_peer_are_not_a_hangup() -> None:
    server, client = socket.socketpair()
    watch, calls = _watch(server)
    client.sendall(b"GET / HTTP/1.1\r\n")
    gevent.sleep(0.1)
    assert calls == [] and not watch.gone  # type: ignore[attr-defined]
    assert server.recv(100) == b"GET / HTTP/1.1\r\n"  # still there for gunicorn
    watch.stop()  # type: ignore[attr-defined]
    client.close()
    server.close()


def test_nothing_is_called_after_stop() -> None:
    server, client = socket.socketpair()
    watch, calls = _watch(server)
    watch.stop()  # type: ignore[attr-defined]
    client.close()
    gevent.sleep(0.1)
    assert calls == [] and not watch.gone  # type: ignore[attr-defined]
    server.close()


def test_watching_costs_no_greenlet_until_the_peer_acts() -> None:
    server, client = socket.socketpair()
    watch, _ = _watch(server)
    gevent.sleep(0.05)
    assert watch._check is None  # type: ignore[attr-defined]
    watch.stop()  # type: ignore[attr-defined]
    client.close()
    server.close()
