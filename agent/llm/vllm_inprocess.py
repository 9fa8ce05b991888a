"""Optional in-process vLLM chat model (GPU machines with ``pip install 'trustrec[gpu]'``).

``vllm`` is imported only when the model is first used; a missing extra raises
:class:`~agent.llm.errors.LLMUnavailable` naming the install command.
"""

from __future__ import annotations

import threading
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field, PrivateAttr

from agent.llm.errors import LLMUnavailable

_LOCK = threading.Lock()
_ENGINES: dict[str, Any] = {}


def has_vllm() -> bool:
    """Whether ``vllm`` can be imported here."""
    import importlib.util

    return importlib.util.find_spec("vllm") is not None


class VLLMChatModel(BaseChatModel):
    """Chat model over ``vllm.LLM`` in this process (one engine per model per process)."""

    model: str = Field(description="Model path or id vLLM can load locally.")
    max_new_tokens: int = 64
    temperature: float = 0.0
    timeout_s: float = 60.0
    _engine: Any = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "trustrec-vllm-inprocess"

    def _get_engine(self) -> Any:
        if not has_vllm():
            raise LLMUnavailable("backend 'vllm-inprocess' needs vLLM: pip install 'trustrec[gpu]'")
        with _LOCK:
            if self.model not in _ENGINES:
                import vllm

                _ENGINES[self.model] = vllm.LLM(model=self.model)
            return _ENGINES[self.model]

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        engine = self._get_engine()
        import vllm

        role = {SystemMessage: "system", HumanMessage: "user", AIMessage: "assistant"}
        conv = [{"role": role.get(type(m), "user"), "content": str(m.content)} for m in messages]
        params = vllm.SamplingParams(max_tokens=self.max_new_tokens, temperature=self.temperature, stop=stop or None)
        out = engine.chat(conv, params, use_tqdm=False)
        text = out[0].outputs[0].text if out and out[0].outputs else ""
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])
