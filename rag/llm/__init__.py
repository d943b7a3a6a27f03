"""LLM generators: OpenAI-compatible endpoints and local GGUF models, grounded and checked.

Entry point for the service: :func:`make_llm_generator` (``kind`` "openai" or
"local", ``llm_cfg`` from settings). Every backend fills the Generator role and
adds ``stream()``; see :mod:`rag.llm.backends` for the streaming contract and
:mod:`rag.llm.checks` for the answer checks.

Example:
    >>> gen = make_llm_generator("openai", {"base_url": "http://127.0.0.1:8080/v1", "model": "smollm2"},
    ...                          embedder=SentenceTransformerEmbedder())
    >>> gen.warm_up()
    >>> g = gen.generate("Where was Super Bowl 2021 played?", hits)
    >>> g.text, g.cited, g.abstained
    ('It was played at Raymond James Stadium in Tampa, Florida. [1]', [1], False)
"""

from __future__ import annotations

import logging
from typing import Any

from rag.llm.backends import AnswerStream, LLMGenerator, LocalGenerator, OpenAIGenerator, default_gguf_path
from rag.llm.checks import (
    DEFAULT_RELEVANCE_THRESHOLD,
    DEFAULT_SUPPORT_THRESHOLD,
    CheckResult,
    GroundingChecker,
    parse_citations,
    selfcheck,
    semantic_entropy,
    strip_citations,
)
from rag.llm.prompt import CANNOT_ANSWER, SYSTEM_PROMPT, build_messages, is_refusal
from rag.protocols import Embedder

__all__ = [
    "make_llm_generator", "LLMGenerator", "OpenAIGenerator", "LocalGenerator", "AnswerStream", "default_gguf_path",
    "GroundingChecker", "CheckResult", "DEFAULT_SUPPORT_THRESHOLD", "DEFAULT_RELEVANCE_THRESHOLD", "selfcheck", "semantic_entropy",
    "parse_citations", "strip_citations", "build_messages", "is_refusal", "CANNOT_ANSWER", "SYSTEM_PROMPT",
]

log = logging.getLogger(__name__)

# settings keys -> constructor arguments, per backend (None values and "" mean "the default")
_COMMON = {
    "temperature": "temperature", "max_tokens": "max_tokens", "checks": "checks",
    "support_threshold": "support_threshold", "check_numbers": "check_numbers",
    "relevance_threshold": "relevance_threshold",
    "selfcheck_samples": "selfcheck_samples", "selfcheck_temperature": "selfcheck_temperature",
    "selfcheck_threshold": "selfcheck_threshold", "cluster_threshold": "cluster_threshold",
    "max_context_chars": "max_context_chars", "seed": "seed",
}
_OPENAI = {"base_url": "base_url", "model": "model", "api_key": "api_key", "timeout_s": "timeout_s",
           "max_retries": "max_retries", "backoff_s": "backoff_s"}
_LOCAL = {"model_path": "model_path", "n_ctx": "n_ctx", "n_threads": "n_threads", "backend": "backend",
          "repeat_penalty": "repeat_penalty"}


def make_llm_generator(kind: str, llm_cfg: dict[str, Any] | None = None, *,
                       embedder: Embedder | None = None) -> LLMGenerator:
    """Build the LLM generator the settings ask for.

    Args:
        kind: ``"openai"`` (an OpenAI-compatible endpoint) or ``"local"`` (a GGUF file).
        llm_cfg: settings; keys ``base_url, model, api_key, timeout_s, max_retries`` (openai),
            ``model_path, n_ctx, n_threads`` (local), and for both ``temperature, max_tokens,
            selfcheck_samples, checks, support_threshold, max_context_chars``. Keys the
            backend does not use are ignored; None or "" means the default.
        embedder: the collection's embedder, used by the answer checks.
    """
    cfg = dict(llm_cfg or {})
    if kind == "openai":
        cls, keys = OpenAIGenerator, {**_COMMON, **_OPENAI}
    elif kind == "local":
        cls, keys = LocalGenerator, {**_COMMON, **_LOCAL}
    else:
        raise ValueError(f"unknown LLM generator {kind!r}; expected 'openai' or 'local'")
    kwargs = {arg: cfg[key] for key, arg in keys.items() if cfg.get(key) not in (None, "")}
    ignored = sorted(k for k in cfg if k not in keys and cfg[k] not in (None, ""))
    if ignored:
        log.debug("%s generator ignores settings %s", kind, ignored)
    return cls(embedder, **kwargs)
