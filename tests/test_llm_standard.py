"""LangChain's standard unit tests for trustrec's two custom chat models (langchain-tests), so they
behave like every other LangChain chat model to the code that embeds them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_tests.unit_tests import ChatModelUnitTests

from agent.llm.embedded import EmbeddedChatModel
from agent.llm.vllm_inprocess import VLLMChatModel


class TestEmbeddedChatModelStandard(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[EmbeddedChatModel]:
        return EmbeddedChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        # construction is lazy: the weights load on the first call, which these unit tests never make
        return {"models_dir": Path("unused-models"), "cache_dir": Path("unused-cache")}


class TestVLLMChatModelStandard(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[VLLMChatModel]:
        return VLLMChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "Qwen/Qwen2.5-0.5B-Instruct"}  # a name only: the engine starts on the first call
