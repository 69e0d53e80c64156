"""app/llm.py: the chat model factory and its speed-up of the openai SDK's chunk parsing."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import openai._models
import pytest

import app.llm
from app.agent.control import RunControl
from app.config import load_settings
from app.llm import LLMConfig, make_chat_model


@runtime_checkable
class _SlowConfigProtocol(Protocol):
    """openai's own definition, for comparison."""

    allow_population_by_field_name: bool


class _V1Config:
    allow_population_by_field_name = True


@pytest.mark.parametrize("config", [{}, {"populate_by_name": True}, _V1Config, _V1Config(), None, object()])
def test_fast_config_check_answers_like_the_protocol(config: object) -> None:
    assert isinstance(config, app.llm._ConfigProtocol) == isinstance(config, _SlowConfigProtocol)


def test_the_speed_up_is_installed() -> None:
    # Fails loudly if an openai upgrade renames what the speed-up replaces.
    assert openai._models._ConfigProtocol is app.llm._ConfigProtocol


def test_offline_without_endpoint_and_bounded_options() -> None:
    assert (
        make_chat_model(
            load_settings({"openai_api_key": None, "openai_base_url": None}), LLMConfig(), RunControl()
        )
        is None
    )
    settings = load_settings({"openai_base_url": "http://127.0.0.1:9/v1", "llm_max_tokens": 100})
    model = make_chat_model(settings, LLMConfig(model="m", temperature=1.5, max_tokens=10_000), RunControl())
    assert model is not None
    assert (model.model_name, model.temperature, model.max_tokens) == ("m", 1.5, 100)


def test_cancel_closes_the_runs_http_client() -> None:
    control = RunControl()
    model = make_chat_model(load_settings({"openai_base_url": "http://127.0.0.1:9/v1"}), LLMConfig(), control)
    assert model is not None
    http_client = model.client._client._client  # the httpx.Client given to the SDK
    assert not http_client.is_closed
    control.cancel("cancelled")
    assert http_client.is_closed
