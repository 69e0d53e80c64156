"""Request bodies of the LangGraph Platform API, as the SDKs send them.

Fields the SDKs always send but Stagecast has no use for (``durability``, ``feedback_keys``,
``langsmith_tracer``, ...) are ignored; fields asking for something Stagecast does not do
(``webhook``, ``after_seconds``) are refused with 422 by the views rather than silently dropped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ...runs.owners import ID_PATTERN

MultitaskStrategy = Literal["reject", "interrupt", "rollback", "enqueue"]
SortOrder = Literal["asc", "desc"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CommandBody(_Body):
    resume: Any = None
    update: Any = None
    goto: Any = None


class RunCreate(_Body):
    assistant_id: str = Field(min_length=1)
    input: dict[str, Any] | None = None
    command: CommandBody | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    stream_mode: list[str] | str = Field(default_factory=lambda: ["values"])
    stream_subgraphs: bool = False
    stream_resumable: bool = False
    on_disconnect: Literal["cancel", "continue"] | None = None
    multitask_strategy: MultitaskStrategy = "enqueue"
    if_not_exists: Literal["create", "reject"] = "reject"
    interrupt_before: list[str] | Literal["*"] | None = None
    interrupt_after: list[str] | Literal["*"] | None = None
    # Asked for, not offered: refused when set (see the module docstring).
    webhook: str | None = None
    after_seconds: float | None = None
    checkpoint: dict[str, Any] | None = None
    checkpoint_id: str | None = None

    @property
    def modes(self) -> list[str]:
        return [self.stream_mode] if isinstance(self.stream_mode, str) else list(self.stream_mode)


class ThreadCreate(_Body):
    thread_id: str | None = Field(None, min_length=1, max_length=200, pattern=ID_PATTERN)
    metadata: dict[str, Any] = Field(default_factory=dict)
    if_exists: Literal["raise", "do_nothing"] = "raise"


class ThreadUpdate(_Body):
    metadata: dict[str, Any] = Field(default_factory=dict)


class ThreadSearch(_Body):
    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    ids: list[str] | None = None
    status: Literal["idle", "busy", "interrupted", "error"] | None = None
    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0)
    sort_by: Literal["thread_id", "status", "created_at", "updated_at"] = "created_at"
    sort_order: SortOrder = "desc"


class HistoryRequest(_Body):
    limit: int = Field(10, ge=1, le=1000)
    before: str | dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    checkpoint: dict[str, Any] | None = None


class AssistantSearch(_Body):
    graph_id: str | None = None
    name: str | None = None
    metadata: dict[str, Any] | None = None
    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class StateUpdate(_Body):
    """``POST /threads/<id>/state``: write ``values`` as if ``as_node`` had returned them."""

    values: dict[str, Any] | list[dict[str, Any]] | None = None
    as_node: str | None = None
    checkpoint: dict[str, Any] | None = None
    checkpoint_id: str | None = None


class ThreadCount(_Body):
    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    status: Literal["idle", "busy", "interrupted", "error"] | None = None


class ThreadPrune(_Body):
    thread_ids: list[str] = Field(min_length=1, max_length=1000)
    strategy: Literal["delete", "keep_latest"] = "delete"


class BatchRunCreate(RunCreate):
    """One run of ``POST /runs/batch``: on ``thread_id``, or stateless without one."""

    thread_id: str | None = None


Namespace = list[str]


class StorePut(_Body):
    namespace: Namespace
    key: str = Field(min_length=1, max_length=1000)
    value: dict[str, Any]
    index: Any = None
    ttl: float | None = None


class StoreDelete(_Body):
    namespace: Namespace
    key: str = Field(min_length=1, max_length=1000)


class StoreSearch(_Body):
    namespace_prefix: Namespace = Field(default_factory=list)
    filter: dict[str, Any] | None = None
    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0)
    query: str | None = None


class StoreNamespaces(_Body):
    prefix: Namespace | None = None
    suffix: Namespace | None = None
    max_depth: int | None = Field(None, ge=1)
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class CronCreate(RunCreate):
    """A cron: a run body, and when to start it."""

    schedule: str = Field(min_length=1, max_length=200)
    end_time: datetime | None = None
    timezone: str | None = None
    """Schedules are read in UTC: any other zone is refused."""


class CronSearch(_Body):
    assistant_id: str | None = None
    thread_id: str | None = None
    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class RunsCancel(_Body):
    """``POST /runs/cancel``: these runs of a thread, or every run of the caller in ``status``."""

    thread_id: str | None = None
    run_ids: list[str] | None = Field(None, max_length=1000)
    status: Literal["pending", "running", "all"] | None = None
