"""The four ``llm_model`` variants of the assistant config, discriminated by ``type``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr

from .base import ConfigModel
from .fields import StrictHttpUrl


class DedicatedLLM(ConfigModel):
    """A model the platform hosts for the customer."""

    type: Literal["dedicated-instance"]
    name: Literal["gpt-4.1", "ministral-3-8b-instruct"]


class OpenRouterLLM(ConfigModel):
    """A model served through OpenRouter, pinned to one upstream provider."""

    type: Literal["openrouter"]
    openrouter_model_id: str = Field(min_length=1, description="e.g. openai/gpt-4.1")
    openrouter_provider: str = Field(min_length=1, description="e.g. nebius, openai, azure")


class CustomLLM(ConfigModel):
    """Any OpenAI-compatible chat completions endpoint, with the customer's own key."""

    type: Literal["custom"]
    api_key: SecretStr = Field(min_length=1, description="Sent as a Bearer token.")
    api_url: StrictHttpUrl = Field(description="Base URL, e.g. https://api.together.xyz/v1")
    model_name: str = Field(min_length=1)


class RealtimeLLM(ConfigModel):
    """A speech-to-speech realtime model (OpenAI or Google)."""

    type: Literal["realtime"]
    provider: Literal["openai", "google"]
    realtime_model_id: str = Field(min_length=1)
    realtime_voice_id: str | None = Field(default=None, min_length=1)


LLMModel = Annotated[
    DedicatedLLM | OpenRouterLLM | CustomLLM | RealtimeLLM, Field(discriminator="type")
]

LLM_MODEL_TYPES = frozenset({"dedicated-instance", "openrouter", "custom", "realtime"})
"""The discriminator values; pydantic puts them in error locations, which paths leave out."""

DEFAULT_LLM = DedicatedLLM(type="dedicated-instance", name="gpt-4.1")
