"""``BaseChatModel.stream`` for a model whose only listeners are LangGraph's ``messages``
handlers, as in every Stagecast run (``app/agent/chatbot.py``) and in ``stream_mode="messages"``.

LangChain's ``stream`` hands each chunk to its callback manager, which fans it out to the
handlers, and keeps every chunk in a list until the answer ends, to merge them for
``on_llm_end``: ~2.4 KB per token streamed (``app/agent/answer_parts.py``).
:func:`lean_stream` does what ``stream`` does, in the same order and with the same arguments,
with two differences:
- each chunk goes to the handlers' ``on_llm_new_token`` directly (an exception from a handler
  is logged and swallowed as the callback manager does, or raised if it asks to be);
- the answer keeps, of a chunk that adds only text to a merge, the text
  (:class:`~app.agent.answer_parts.AnswerParts`).

It applies only when nothing else would see a difference (:func:`lean_applies`): no tracer or
other handler, no rate limiter, ``output_version`` not ``v1``. Otherwise ``stream`` runs as is.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from langchain_core.callbacks import CallbackManager, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models._utils import _filter_invocation_params_for_tracing, _normalize_messages
from langchain_core.language_models.chat_models import (
    _format_for_tracing,
    _format_ls_structured_output,
    _gen_info_and_msg_metadata,
    _generate_response_from_error,
)
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, LLMResult
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import ensure_config
from langchain_core.utils.utils import LC_ID_PREFIX
from langgraph.pregel._messages import StreamMessagesHandler

from .answer_parts import generation_parts

__all__ = ["LeanCall", "lean_applies", "lean_stream", "prepare"]

log = logging.getLogger(__name__)


def _only_messages_handlers(manager: CallbackManager) -> bool:
    return bool(manager.handlers) and all(type(h) is StreamMessagesHandler for h in manager.handlers)


def lean_applies(model: BaseChatModel, manager: CallbackManager) -> bool:
    """Whether :func:`lean_stream` gives every listener what ``stream`` would."""
    return (
        model.rate_limiter is None
        and getattr(model, "output_version", None) != "v1"
        and _only_messages_handlers(manager)
    )


@dataclass
class LeanCall:
    """One ``stream`` call, set up as ``stream`` sets it up."""

    messages: list[BaseMessage]  # as given, for the callbacks
    config: RunnableConfig
    manager: CallbackManager
    params: dict[str, Any]
    options: dict[str, Any]
    kwargs: dict[str, Any]  # for the model's ``_stream``, without the structured-output keys

    @property
    def model_input(self) -> list[BaseMessage]:
        return _normalize_messages(self.messages)


def prepare(
    model: BaseChatModel,
    input: Any,
    config: RunnableConfig | None,
    stop: list[str] | None,
    kwargs: dict[str, Any],
) -> LeanCall | None:
    """The call as ``stream`` would make it, or None when :func:`lean_stream` does not apply
    (``stream`` then runs as is)."""
    if not model._should_stream(async_api=False, **{**kwargs, "stream": True}):
        return None
    config = ensure_config(config)
    messages = model._convert_input(input).to_messages()
    kwargs = dict(kwargs)
    structured = kwargs.pop("ls_structured_output_format", None) or kwargs.pop(
        "structured_output_format", None
    )
    params = model._get_invocation_params(stop=stop, **kwargs)
    options = {
        "stop": stop,
        **{key: params[key] for key in kwargs if key in params},
        **_format_ls_structured_output(structured),
    }
    inheritable_metadata = {
        **(config.get("metadata") or {}),
        **model._get_ls_params_with_defaults(stop=stop, **kwargs),
    }
    manager = CallbackManager.configure(
        config.get("callbacks"),
        model.callbacks,
        model.verbose,
        config.get("tags"),
        model.tags,
        inheritable_metadata,
        model.metadata,
        langsmith_inheritable_metadata=_filter_invocation_params_for_tracing(params),
    )
    if not lean_applies(model, manager):
        return None
    return LeanCall(messages, config, manager, params, options, kwargs)


def lean_stream(
    model: BaseChatModel, call: LeanCall, chunks: Iterator[ChatGenerationChunk]
) -> Iterator[AIMessageChunk]:
    """``stream``'s loop over ``chunks`` (the model's ``_stream`` of ``call.model_input``), for
    ``messages`` handlers only (module docstring)."""
    (run_manager,) = call.manager.on_chat_model_start(
        model._serialized,
        [_format_for_tracing(call.messages)],
        invocation_params=call.params,
        options=call.options,
        name=call.config.get("run_name"),
        run_id=call.config.pop("run_id", None),
        batch_size=1,
    )
    answer = generation_parts()
    run_id = f"{LC_ID_PREFIX}-{run_manager.run_id}"
    message: BaseMessage | None = None
    try:
        for chunk in chunks:
            message = chunk.message
            if message.id is None:
                message.id = run_id
            message.response_metadata = _gen_info_and_msg_metadata(chunk)
            _new_token(run_manager, message.content, chunk)  # type: ignore[arg-type]
            answer.add(chunk, cast(AIMessageChunk, message), chunk.generation_info)
            yield cast(AIMessageChunk, message)
        # A last empty chunk with chunk_position="last", unless the model sent one.
        if isinstance(message, AIMessageChunk) and not message.chunk_position:
            last = AIMessageChunk(content="", chunk_position="last", id=run_id)
            _new_token(run_manager, "", ChatGenerationChunk(message=last))
            yield last
    except BaseException as exc:
        failed = _generate_response_from_error(exc)
        so_far = answer.merged()
        run_manager.on_llm_error(
            exc, response=LLMResult(generations=[[so_far], failed] if so_far else [failed])
        )
        raise
    generation = answer.merged()
    if generation is None:
        error = ValueError("No generation chunks were returned")
        run_manager.on_llm_error(error, response=LLMResult(generations=[]))
        raise error
    run_manager.on_llm_end(LLMResult(generations=[[cast(ChatGeneration, generation)]]))


def _new_token(run_manager: CallbackManagerForLLMRun, token: str, chunk: ChatGenerationChunk) -> None:
    for handler in run_manager.handlers:
        try:
            handler.on_llm_new_token(
                token,
                chunk=chunk,
                run_id=run_manager.run_id,
                parent_run_id=run_manager.parent_run_id,
                tags=run_manager.tags,
            )
        except Exception as exc:  # as langchain_core.callbacks.manager.handle_event does
            log.warning("Error in %s.on_llm_new_token callback: %r", type(handler).__name__, exc)
            if handler.raise_error:
                raise
