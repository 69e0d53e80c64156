"""``/langgraph/store``: LangGraph's long-term memory store (items, search, namespaces).

The same store graphs reach with ``get_store()`` (app/agent/store.py), persisted by mode. With
authentication on, each user has namespaces of their own; admins see the whole store.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from langgraph.store.base import BaseStore, Item, SearchItem

from ...agent.store import scoped, user_scope
from ...auth import current_principal
from ...errors import not_found
from ...events import ErrorCode
from ...validation import validate_model
from .api import _body, bp, service
from .inputs import unprocessable
from .models import StoreDelete, StoreNamespaces, StorePut, StoreSearch
from .serialize import jsonable


@bp.put("/store/items")
def put_item() -> tuple[str, int]:
    body = _body(StorePut)
    with _scope():
        _store().put(_namespace(body.namespace), body.key, body.value)
    return "", 204


@bp.get("/store/items")
def get_item() -> Response:
    namespace = _namespace([label for label in request.args.get("namespace", "").split(".") if label])
    key = request.args.get("key", "")
    if not key:
        raise unprocessable("key is required.")
    with _scope():
        item = _store().get(namespace, key)
    if item is None:
        raise not_found(ErrorCode.NOT_FOUND, f"No item {key!r} in {'.'.join(namespace)}.")
    return jsonify(_item(item))


@bp.delete("/store/items")
def delete_item() -> tuple[str, int]:
    body = validate_model(StoreDelete, request.get_json(silent=True) or {})
    with _scope():
        _store().delete(_namespace(body.namespace), body.key)
    return "", 204


@bp.post("/store/items/search")
def search_items() -> Response:
    body = _body(StoreSearch)
    with _scope():
        found = _store().search(
            tuple(body.namespace_prefix),
            query=body.query,
            filter=body.filter,
            limit=body.limit,
            offset=body.offset,
        )
    return jsonify({"items": [_item(item) for item in found]})


@bp.post("/store/namespaces")
def list_namespaces() -> Response:
    body = _body(StoreNamespaces)
    with _scope():
        found = _store().list_namespaces(
            prefix=tuple(body.prefix) if body.prefix else None,
            suffix=tuple(body.suffix) if body.suffix else None,
            max_depth=body.max_depth,
            limit=body.limit,
            offset=body.offset,
        )
    return jsonify({"namespaces": [list(namespace) for namespace in found]})


def _store() -> BaseStore:
    store = service().agents.store
    if store is None:
        raise not_found(ErrorCode.NOT_FOUND, "This server has no store.")
    return store


def _scope() -> Any:
    principal = current_principal()
    return scoped(user_scope(principal.user_id, sees_all=principal.open or principal.admin))


def _namespace(labels: list[str]) -> tuple[str, ...]:
    if not labels or any(not label or "." in label for label in labels):
        raise unprocessable("namespace is a non-empty list of labels, none empty, none with a period.")
    return tuple(labels)


def _item(item: Item) -> dict[str, Any]:
    data = {
        "namespace": list(item.namespace),
        "key": item.key,
        "value": jsonable(item.value),
        "created_at": item.created_at.isoformat(),
        "updated_at": item.updated_at.isoformat(),
    }
    if isinstance(item, SearchItem):
        data["score"] = item.score
    return data
