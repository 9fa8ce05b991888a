"""LLM backends behind LangChain chat models, with health checks and typed errors.

Backends (``LLMConfig.backend``): ``embedded`` (packaged base gemma-3-270m on CPU, default),
``openai`` (an OpenAI-compatible server such as ``vllm serve``), ``vllm-inprocess`` (optional
extra). Heavy libraries (torch, transformers, langchain_openai) load only when a model is built.
"""

from agent.llm.backends import complete, make_chat_model, model_label, prompt_style, stream
from agent.llm.errors import LLMError, LLMTimeout, LLMUnavailable
from agent.llm.health import Health, check_health

__all__ = [
    "Health",
    "LLMError",
    "LLMTimeout",
    "LLMUnavailable",
    "check_health",
    "complete",
    "make_chat_model",
    "model_label",
    "prompt_style",
    "stream",
]
