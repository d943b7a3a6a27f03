"""Settings, read from ``RAG_`` environment variables (and a ``.env`` file).

Only the CLI and the API read settings; components take plain arguments.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "rag"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir, description="where collections live")
    default_collection: str = "default"

    # models
    embedding_model: str = Field("", description="local SentenceTransformer folder; empty = packaged all-MiniLM-L6-v2")
    reranker_model: str = Field("", description="local CrossEncoder folder; empty = the collection's trained one, if any")
    device: str = Field("auto", description="auto, cpu or cuda")
    generator: str = Field("extractive", description="extractive, openai or local")
    llm_base_url: str = "http://127.0.0.1:8080/v1"
    llm_model: str = "smollm2"
    llm_api_key: str = "sk-no-key"
    llm_timeout_s: float = 30.0
    llm_max_retries: int = 2
    llm_temperature: float = 0.1
    llm_max_tokens: int = 256
    local_model_path: str = Field("", description="GGUF file for generator=local; empty = packaged SmolLM2")
    selfcheck_samples: int = Field(0, description="SelfCheckGPT samples (0 = off)")
    selfcheck_temperature: float = Field(1.0, description="sampling temperature of the self-check samples")
    selfcheck_threshold: float = Field(0.6, description="least consistency with the samples a kept answer sentence needs")

    # chunking and retrieval
    chunk_tokens: int = 256
    chunk_overlap: int = 30
    max_file_mb: float = 20.0
    top_k: int = 5
    candidate_k: int = 50
    rerank_k: int = 20
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    rrf_k: int = 60
    context_chars: int = 6000
    index_quantization: str = Field("none", description="none, sq8 or pq")
    max_question_chars: int = 2000
    sentence_vectors: bool = Field(True, description="precompute sentence vectors at ingest: answers embed only the question")

    # API
    query_concurrency: int = Field(0, description="questions in flight at once (worker threads); 0 = CPUs, or 2x query_batch")
    query_batch: int = Field(32, description="concurrent questions answered in one batched pass (0 = one by one)")
    query_batch_wait_ms: float = Field(2.0, description="how long a batch waits for more questions after the first")
    query_encoder: Literal["torch", "onnx-int8"] = Field(
        "torch", description="questions through the fp32 embedder, or an int8 ONNX copy of it (about half the CPU)")
    ingest_worker: Literal["process", "thread"] = Field(
        "process", description="API ingests run in a child process at lower CPU priority (answers stay fast), "
                               "or in a thread of the server")
    ingest_nice: int = Field(10, ge=0, le=19, description="nice increment of the API's ingest process (0-19)")
    api_keys: str = Field("", description="comma-separated keys; key:coll1|coll2 scopes a key")
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 1_000_000
    max_upload_bytes: int = 20_000_000
    rate_limit_per_minute: int = 600

    @field_validator("top_k", "candidate_k", "rerank_k", "chunk_tokens", "rrf_k")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v <= 0:
            raise ValueError(f"must be > 0, got {v}")
        return v

    @field_validator("generator")
    @classmethod
    def _gen(cls, v: str) -> str:
        if v not in {"extractive", "openai", "local"}:
            raise ValueError(f"generator must be extractive, openai or local, got {v!r}")
        return v


def get_settings() -> Settings:
    return Settings()
