"""The embedding model as int8 ONNX: exported locally from the model folder at first use.

sentence-transformers' own ONNX backend needs `optimum-onnx`, whose only release
pins transformers < 4.58 (it would downgrade transformers and break
sentence-transformers 6 and Gradio 6), so the export is done here with the same
steps it takes: `torch.onnx.export` of transformer + mean pooling + L2 norm,
onnxruntime's transformer fusions (optimum's "O2"), then onnxruntime's dynamic int8
quantization (per-channel weights). The transformer is traced with eager attention:
the SDPA graph does not match onnxruntime's attention fusion, and the fused int8 graph
encodes about 1.3x faster (README). Inference needs only a tokenizer and `onnxruntime`
— torch is not even imported once the file exists. Texts are encoded in length-sorted
batches, split where the padding would cost more than another call (`split_batches`).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ConfigError
from vectorstore.lanes import BULK, QUESTION, QuestionsFirst

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
CALL_COST = 128  # padded tokens a further batch must save to pay for its call (measured)
EXPORT_VERSION = "2"  # bump when the export recipe changes, so caches are rebuilt


def check_mean_pooling(model_path: Path) -> None:
    """The exported graph pools by mean and normalises: refuse models that do otherwise."""
    modules = json.loads((model_path / "modules.json").read_text())
    types = [m["type"].rsplit(".", 1)[-1] for m in modules]
    pooling_dir = next((m["path"] for m in modules if m["type"].endswith("Pooling")), None)
    pooling = json.loads((model_path / str(pooling_dir) / "config.json").read_text())
    if types != ["Transformer", "Pooling", "Normalize"] or not pooling.get(
        "pooling_mode_mean_tokens"
    ):
        raise ConfigError(
            f"{model_path}: the onnx-int8 backend supports Transformer + mean Pooling + "
            "Normalize models only; set NEWSRAG_EMBEDDING_BACKEND=torch"
        )


def read_prompts(model_path: Path) -> dict[str, str]:
    """The prompts a sentence-transformers folder declares (`config_sentence_transformers.json`
    "prompts", e.g. multilingual-e5-small's `query: ` and `passage: `); none for MiniLM."""
    config = model_path / "config_sentence_transformers.json"
    found = json.loads(config.read_text()) if config.is_file() else {}
    prompts = found.get("prompts") or {}
    return {str(k): str(v) for k, v in prompts.items() if v}


def export_stem(model_path: Path) -> str:
    """The exported files' name stem: the model a derived folder names, else `minilm` (as
    before, so existing exports of the bundled model stay valid)."""
    source = model_path / "newsrag_source.json"
    return str(json.loads(source.read_text())["name"]) if source.is_file() else "minilm"


def cache_key(model_path: Path) -> str:
    """Changes when the model's weights (or the export recipe) change."""
    h = hashlib.sha256(EXPORT_VERSION.encode())
    for name in ("model.safetensors", "pytorch_model.bin", "config.json", "tokenizer.json"):
        path = model_path / name
        if path.is_file():
            stat = path.stat()
            h.update(f"{name}:{stat.st_size}:{int(stat.st_mtime)}".encode())
    return h.hexdigest()[:16]


def export_int8(model_path: Path, cache_dir: Path) -> Path:
    """The int8 ONNX file for `model_path`, exported once into `cache_dir` (atomically)."""
    check_mean_pooling(model_path)
    target = cache_dir / f"{export_stem(model_path)}-{cache_key(model_path)}-int8.onnx"
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
        fp32, fused = Path(tmp) / "model.onnx", Path(tmp) / "model-fused.onnx"
        int8 = Path(tmp) / "model-int8.onnx"
        config = export_fp32(model_path, fp32)
        fuse_transformer(fp32, fused, config)
        # Per-channel int8 weights: cosine to fp32 mean 0.991, min 0.978 (SQuAD-it chunks).
        # Fused operators are outside ONNX's shape inference: their outputs are float.
        quantize_dynamic(
            str(fused), str(int8), weight_type=QuantType.QInt8, per_channel=True,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )  # fmt: skip
        os.replace(int8, target)
    return target


def export_fp32(model_path: Path, target: Path) -> Any:
    """Trace transformer + mean pooling + L2 norm to an fp32 ONNX file; returns the
    transformer's config (the fusions need its head count and width)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_path), local_files_only=True)
    transformer = AutoModel.from_pretrained(
        str(model_path), local_files_only=True, attn_implementation="eager"
    ).eval()

    class MeanPooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.transformer(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    sample = tokenizer(["una frase", "un'altra frase più lunga"], padding=True, return_tensors="pt")
    if "token_type_ids" not in sample:  # XLM-R tokenizers return none; BERT reads zeros
        sample["token_type_ids"] = torch.zeros_like(sample["input_ids"])
    axes = {name: {0: "batch", 1: "tokens"} for name in INPUTS}
    with torch.no_grad():
        torch.onnx.export(
            MeanPooled(),
            tuple(sample[name] for name in INPUTS),
            str(target),
            input_names=list(INPUTS),
            output_names=["sentence_embedding"],
            dynamic_axes={**axes, "sentence_embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    return transformer.config


def fuse_transformer(source: Path, target: Path, config: Any) -> None:
    """onnxruntime's BERT fusions (attention, embedding and skip layer norms, bias GELU);
    a graph they do not match is saved unchanged."""
    from onnxruntime.transformers.optimizer import optimize_model

    model = optimize_model(
        str(source),
        model_type="bert",
        num_heads=int(getattr(config, "num_attention_heads", 0) or 0),
        hidden_size=int(getattr(config, "hidden_size", 0) or 0),
    )
    model.save_model_to_file(str(target))


class BatchEncoder:
    """Tokenise once, encode in length-sorted batches; subclasses run one padded batch.
    A question's batches go first: an ingest's wait for a pause in them (`lanes`)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer  # `window_tokenizer`'s, shared with the token counter
        self.lanes = QuestionsFirst()

    width_multiple = 1  # a batch's padded width is rounded up to a multiple of this

    def run(self, feeds: dict[str, np.ndarray], lane: str = BULK) -> np.ndarray:
        raise NotImplementedError

    def encode(self, texts: Sequence[str], batch_size: int, lane: str = BULK) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids), reverse=True)
        widths = [
            -(-len(encodings[i].ids) // self.width_multiple) * self.width_multiple for i in order
        ]
        out = np.zeros((len(texts), 0), dtype=np.float32)
        for start, end in split_batches(widths, batch_size, CALL_COST):
            feeds = padded_feeds([encodings[i] for i in order[start:end]], self.width_multiple)
            if lane == QUESTION:
                with self.lanes.question():
                    vectors = self.run(feeds, lane)
            else:
                self.lanes.before_bulk()
                vectors = self.run(feeds, lane)
            if out.shape[1] == 0:
                out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            out[order[start:end]] = vectors
        return out


def split_batches(widths: Sequence[int], most: int, call_cost: int) -> list[tuple[int, int]]:
    """(start, end) of the batches for texts of these padded `widths`, longest first: the
    split with the fewest padded tokens plus `call_cost` per batch, `most` texts a batch.

    One batch pads every text to the longest: a question's 12 candidate sentences are half
    padding (SQuAD-it, 500 random sets of 12: 1,152 padded tokens at the median, 768 when
    split in two where it pays)."""
    n = len(widths)
    best = [0] + [1 << 62] * n  # best[i]: the cheapest split of the first i texts
    cut = [0] * (n + 1)
    for end in range(1, n + 1):
        for start in range(max(0, end - most), end):
            cost = best[start] + (end - start) * widths[start] + call_cost
            if cost < best[end]:
                best[end], cut[end] = cost, start
    spans, end = [], n
    while end:
        spans.append((cut[end], end))
        end = cut[end]
    return spans[::-1]


def window_tokenizer(model_path: Path, max_tokens: int) -> Any:
    """The model's tokenizer, truncating at its window and never padding (a batch pads itself,
    to its longest text). Load it once per model. The derived e5 folder's runs in
    SentencePiece (vectorstore.piece_tokenizer): XLM-R's 250,002-piece vocabulary takes
    ~260 MB resident in `tokenizers`, ~65 MB there."""
    from tokenizers import Tokenizer

    from vectorstore.piece_tokenizer import has_piece_models, load_piece_tokenizer

    if has_piece_models(model_path):
        return load_piece_tokenizer(model_path, max_tokens)

    tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.no_padding()
    return tokenizer


def padded_feeds(batch: Sequence[Any], multiple: int = 1) -> dict[str, np.ndarray]:
    """The model's three int64 inputs for a batch of `tokenizers` encodings, zero-padded to
    the longest, rounded up to a `multiple` of tokens (masked: the vectors do not change)."""
    longest = max(len(e.ids) for e in batch)
    width = -(-longest // multiple) * multiple
    feeds = {name: np.zeros((len(batch), width), dtype=np.int64) for name in INPUTS}
    for row, enc in enumerate(batch):
        n = len(enc.ids)
        feeds["input_ids"][row, :n] = enc.ids
        feeds["attention_mask"][row, :n] = enc.attention_mask
        feeds["token_type_ids"][row, :n] = enc.type_ids
    return feeds


class OnnxEncoder(BatchEncoder):
    """Sentence embeddings from an ONNX file on onnxruntime."""

    def __init__(self, onnx_path: Path, tokenizer: Any, threads: int) -> None:
        import onnxruntime as ort

        super().__init__(tokenizer)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )

    def run(self, feeds: dict[str, np.ndarray], lane: str = BULK) -> np.ndarray:
        # An onnxruntime session takes concurrent calls: it needs no lanes.
        return np.asarray(self.session.run(None, feeds)[0])
