"""LangGraph's long-term memory store, shared by graphs (``get_store()``, a node's ``store``
argument) and the LangGraph API's ``/store`` routes, persisted where the checkpoints are:
SQLite in the embedded mode, PostgreSQL in the distributed one.

Namespaces are per user: with authentication on, a user's namespaces live under
``("users", <user id>)`` and that prefix is invisible to them, in the API as in the nodes of
their runs. Admins, and everyone with authentication off, see the store unscoped. The scope
is a context variable: the API sets it per request, the run manager per run (for its owner).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, cast

from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)

_SCOPE: ContextVar[tuple[str, ...]] = ContextVar("stagecast_store_scope", default=())


def user_scope(user_id: str | None, *, sees_all: bool) -> tuple[str, ...]:
    """The namespace prefix of a caller: none for admins and with authentication off."""
    return () if sees_all or user_id is None else ("users", user_id)


@contextmanager
def scoped(scope: tuple[str, ...]) -> Iterator[None]:
    token = _SCOPE.set(scope)
    try:
        yield
    finally:
        _SCOPE.reset(token)


def set_scope(scope: tuple[str, ...]) -> None:
    """For the rest of this context (a request, a run's greenlet)."""
    _SCOPE.set(scope)


class ScopedStore(BaseStore):
    """A store whose namespaces are under the current scope (see the module docstring)."""

    def __init__(self, inner: BaseStore) -> None:
        self.inner = inner

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        scope = _SCOPE.get()
        if not scope:
            return self.inner.batch(ops)
        ops = list(ops)
        results = self.inner.batch([_in(op, scope) for op in ops])
        return [_out(op, result, scope) for op, result in zip(ops, results, strict=True)]

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        raise NotImplementedError("Stagecast's nodes are synchronous (docs/architecture.md, trap 5).")


def _in(op: Op, scope: tuple[str, ...]) -> Op:
    if isinstance(op, GetOp | PutOp):
        return op._replace(namespace=(*scope, *op.namespace))
    if isinstance(op, SearchOp):
        return op._replace(namespace_prefix=(*scope, *op.namespace_prefix))
    conditions = [
        MatchCondition("prefix", (*scope, *c.path)) if c.match_type == "prefix" else c
        for c in op.match_conditions or ()
    ]
    if not any(c.match_type == "prefix" for c in conditions):
        conditions.insert(0, MatchCondition("prefix", scope))
    depth = op.max_depth + len(scope) if op.max_depth is not None else None
    return op._replace(match_conditions=tuple(conditions), max_depth=depth)


def _out(op: Op, result: Result, scope: tuple[str, ...]) -> Result:
    if isinstance(op, GetOp):
        return _item(result, scope) if isinstance(result, Item) else result
    if isinstance(op, SearchOp):
        return [_item(item, scope) for item in cast("list[Item]", result or [])]
    if isinstance(op, ListNamespacesOp):
        return [tuple(ns[len(scope) :]) for ns in cast("list[tuple[str, ...]]", result or [])]
    return result


def _item(item: Item, scope: tuple[str, ...]) -> Item:
    fields: dict[str, Any] = {
        "namespace": tuple(item.namespace[len(scope) :]),
        "key": item.key,
        "value": item.value,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
    }
    if isinstance(item, SearchItem):
        return SearchItem(score=item.score, **fields)
    return Item(**fields)
