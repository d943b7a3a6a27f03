"""An int8 copy of the embedder for the question side: the same vectors for about half the CPU.

Under load most of an answer's CPU is one forward pass of the embedder over
the question. The fp32 passes are compute-bound (on 2 cores, 32 questions take
about 250 ms), so only fewer operations help: this module exports the
collection's SentenceTransformer (transformer, mean pooling, normalisation) to
ONNX and quantises its weights to int8 with onnxruntime's dynamic
quantisation, per output channel. Measured on the packaged MiniLM
(``benchmarks/query_encoder.py``): question vectors keep a cosine of 0.99 with
the fp32 ones, dense nDCG@10 moves by -0.003 on Cranfield and 0.000 on
PubMedQA, and a batch of 32 questions takes 128 ms instead of 246 ms.

Only questions go through it: passages stay fp32 from sentence-transformers,
so a collection's index and its manifest do not change, and the setting can
be switched either way at any time.

The export runs once per model and is cached (atomically, write then rename)
under the data directory. A model whose pipeline is not transformer + mean
pooling (+ normalise), or whose int8 copy does not reproduce the fp32 vectors
(cosine under ``min_cosine`` on probe sentences), is refused with a clear
error; the service then keeps the fp32 encoder.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["OnnxInt8Encoder"]

_PROBES = [
    "When was the company founded?",
    "what similarity laws must be obeyed when constructing aeroelastic models of heated high speed aircraft .",
    "Does aspirin reduce the risk of a second heart attack in older patients with diabetes?",
    "Full-time employees get 27 days of paid annual leave plus public holidays.",
]


def _fingerprint(folder: Path) -> str:
    """A key for the model's weights: names, sizes and modification times of its files."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            st = p.stat()
            h.update(f"{p.relative_to(folder)}:{st.st_size}:{int(st.st_mtime)}\n".encode())
    return h.hexdigest()[:16]


class OnnxInt8Encoder:
    """The :class:`~rag.protocols.Embedder` role for questions, over an int8 ONNX copy of ``base``.

    Args:
        base: the collection's :class:`~rag.embedding.SentenceTransformerEmbedder`
            (its tokenizer, model id and dimension are shared).
        cache_dir: where the exported models are kept (one folder per model fingerprint).
        threads: onnxruntime intra-op threads; 0 = one per core.
        sub_batch: texts per forward pass; questions are sorted by length first,
            so a pass pads little.
        min_cosine: the int8 copy must reproduce the fp32 vectors of the probe
            sentences at least this well, or it is refused.
    """

    def __init__(self, base, cache_dir: str | os.PathLike, *, threads: int = 0, sub_batch: int = 16,
                 min_cosine: float = 0.97) -> None:
        if sub_batch <= 0:
            raise ValueError(f"sub_batch must be > 0, but got {sub_batch}")
        self.base = base
        self.cache_dir = Path(cache_dir)
        self.threads = threads
        self.sub_batch = sub_batch
        self.min_cosine = min_cosine
        self.model_id = base.model_id
        self.dim = 0
        self.path: Path | None = None
        self._session = None
        self._inputs: list[str] = []
        self._lock = threading.Lock()
        self._tok_lock = threading.Lock()  # a fast tokenizer set up for padding is not safe to share across threads

    # ------------------------------------------------------------------ build
    def _check_supported(self, model) -> None:
        names = [type(m).__name__ for m in model]
        ok = names[:2] == ["Transformer", "Pooling"] and all(n == "Normalize" for n in names[2:])
        mode = None
        if ok:  # sentence-transformers >= 5 names it pooling_mode; older releases get_pooling_mode_str()
            pool = model[1]
            mode = getattr(pool, "pooling_mode", None)
            if not isinstance(mode, str) and hasattr(pool, "get_pooling_mode_str"):
                mode = pool.get_pooling_mode_str()
        if not ok or mode != "mean":
            raise ValueError(f"the int8 query encoder supports transformer + mean pooling models; "
                             f"this one is {' + '.join(names)} (pooling {mode})")

    def _export(self, target: Path) -> None:
        """Export fp32 ONNX, quantise to int8 (per channel), then move the folder into place."""
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic

        model = self.base.model
        self._check_supported(model)
        transformer = model[0].auto_model.eval()

        class _MeanPooled(torch.nn.Module):
            def __init__(self, net):
                super().__init__()
                self.net = net

            def forward(self, input_ids, attention_mask, token_type_ids):
                h = self.net(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state
                m = attention_mask.unsqueeze(-1).to(h.dtype)
                v = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
                return torch.nn.functional.normalize(v, dim=-1)

        enc = self.base.tokenizer(_PROBES[:2], padding=True, return_tensors="pt")
        args = tuple(enc[k] for k in ("input_ids", "attention_mask", "token_type_ids"))
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=self.cache_dir))
        try:
            fp32 = tmp / "model-fp32.onnx"
            axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                    "token_type_ids": {0: "batch", 1: "seq"}, "embedding": {0: "batch"}}
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer notes on shape arithmetic; the result is checked on probes
                torch.onnx.export(_MeanPooled(transformer).cpu(), tuple(a.cpu() for a in args), str(fp32),
                                  input_names=["input_ids", "attention_mask", "token_type_ids"],
                                  output_names=["embedding"], dynamic_axes=axes, opset_version=17, dynamo=False)
            quantize_dynamic(str(fp32), str(tmp / "model-int8.onnx"), weight_type=QuantType.QInt8, per_channel=True)
            fp32.unlink()
            if target.exists():  # another process finished first
                return
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def warm_up(self) -> None:
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort

            self.base.warm_up()
            self.dim = int(self.base.dim)
            folder = self.cache_dir / f"{self.model_id.replace('/', '__')}-{_fingerprint(Path(self.base.path))}"
            if not (folder / "model-int8.onnx").is_file():
                log.info("exporting an int8 ONNX copy of %s for questions to %s", self.model_id, folder)
                self._export(folder)
            so = ort.SessionOptions()
            so.intra_op_num_threads = self.threads
            so.inter_op_num_threads = 1
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            # no spin-waiting after a pass: the cores go back to the rest of the server at once
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
            session = ort.InferenceSession(str(folder / "model-int8.onnx"), so, providers=["CPUExecutionProvider"])
            self._inputs = [i.name for i in session.get_inputs()]
            self._session = session
            self.path = folder
            ref = self.base.encode(_PROBES)
            got = self.encode(_PROBES)
            cos = float((ref * got).sum(1).min())
            if got.shape != ref.shape or cos < self.min_cosine:
                self._session = None
                raise ValueError(f"the int8 copy of {self.model_id} does not reproduce its vectors "
                                 f"(cosine {cos:.3f} < {self.min_cosine})")
            log.info("int8 query encoder ready (%s; probe cosine >= %.3f)", folder, cos)

    # ----------------------------------------------------------------- encode
    def encode(self, texts: Sequence[str], *, batch_size: int | None = None, show_progress: bool = False) -> np.ndarray:
        if self._session is None:
            self.warm_up()
        texts = list(texts)
        out = np.zeros((len(texts), self.dim or 384), dtype=np.float32)
        if not texts:
            return out
        step = batch_size or self.sub_batch
        order = np.argsort([-len(t) for t in texts], kind="stable")
        tok = self.base.tokenizer
        max_len = self.base.max_seq_length
        for s in range(0, len(texts), step):
            idx = order[s:s + step]
            with self._tok_lock:
                enc = tok([texts[i] for i in idx], padding=True, truncation=True, max_length=max_len,
                          return_tensors="np")
            feed = {k: enc[k].astype(np.int64) if k in enc else np.zeros_like(enc["input_ids"], dtype=np.int64)
                    for k in self._inputs}
            out[idx] = self._session.run(None, feed)[0]
        return out
