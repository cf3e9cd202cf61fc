"""The int8 ONNX backend: exported locally, same chunks as torch, near-identical vectors."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest

from rag.errors import ConfigError
from tests.conftest import SEED_FILES, make_service
from vectorstore.embeddings import LocalEmbedder, bundled_model_path
from vectorstore.ingest import chunk_article
from vectorstore.loaders import read_article
from vectorstore.onnx_backend import check_mean_pooling

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def onnx_embedder(tmp_path_factory: pytest.TempPathFactory) -> LocalEmbedder:
    cache = tmp_path_factory.mktemp("onnx-cache")
    return LocalEmbedder(bundled_model_path(), backend="onnx-int8", cache_dir=cache)


def test_export_is_local_cached_and_int8(onnx_embedder: LocalEmbedder) -> None:
    onnx_embedder.embed_query("prima chiamata")  # exports on first use
    files = list(onnx_embedder.cache_dir.glob("*.onnx"))
    assert len(files) == 1 and files[0].name.endswith("-int8.onnx")
    stamp = files[0].stat().st_mtime_ns
    again = LocalEmbedder(bundled_model_path(), backend="onnx-int8",
                          cache_dir=onnx_embedder.cache_dir)  # fmt: skip
    again.embed_query("seconda chiamata")
    assert files[0].stat().st_mtime_ns == stamp  # reused, not re-exported
    # int8 weights: about a quarter of the fp32 safetensors.
    fp32 = (bundled_model_path() / "model.safetensors").stat().st_size
    assert files[0].stat().st_size < fp32 / 2
    # onnxruntime's fusions matched the traced graph: one int8 attention node per layer.
    ops = Counter(node.op_type for node in onnx.load(str(files[0])).graph.node)
    assert ops["QAttention"] == 6 and ops["SkipLayerNormalization"] == 12, ops


def test_same_chunks_and_near_identical_vectors(
    onnx_embedder: LocalEmbedder, embedder: LocalEmbedder
) -> None:
    articles = [read_article(p, 1_000_000) for p in SEED_FILES]
    for article in articles:
        torch_chunks = chunk_article(article, embedder, 254, 1)
        assert chunk_article(article, onnx_embedder, 254, 1) == torch_chunks
    texts = [c.text for a in articles for c in chunk_article(a, embedder, 254, 1)]
    texts += ["Chi è il portavoce del Cremlino?", "Dove sono stazionate le truppe?"]
    a = np.array(embedder.embed_documents(texts))
    b = np.array(onnx_embedder.embed_documents(texts))
    cosine = (a * b).sum(axis=1)
    assert cosine.min() > 0.97 and np.allclose(np.linalg.norm(b, axis=1), 1, atol=1e-3)
    # Dynamic quantization scales activations per batch, so a text's vector moves a
    # little with its batch; it stays the same direction.
    single = np.array(onnx_embedder.embed_documents(texts[:1]))
    assert float(single[0] @ b[0]) > 0.98


def test_a_store_is_shared_between_backends(
    onnx_embedder: LocalEmbedder, embedder: LocalEmbedder, tmp_path: Path
) -> None:
    """Same model name: a store built with one backend answers through the other."""
    built = make_service(tmp_path, onnx_embedder)
    built.ingest(SEED_FILES)
    reader = make_service(tmp_path, embedder)
    assert reader.store.counts() == built.store.counts()
    assert "Peskov" in reader.ask("Chi è il portavoce del Cremlino?").answer
    vector = embedder.embed_query("garanzie di sicurezza per l'Ucraina")
    assert reader.store.dense_search(vector, 1)[0][1] > 0.3


def test_other_pooling_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "cls-model"
    shutil.copytree(bundled_model_path(), folder, ignore=shutil.ignore_patterns("*.safetensors"))
    config = folder / "1_Pooling" / "config.json"
    pooling = json.loads(config.read_text())
    config.write_text(json.dumps({**pooling, "pooling_mode_mean_tokens": False,
                                  "pooling_mode_cls_token": True}))  # fmt: skip
    with pytest.raises(ConfigError, match="NEWSRAG_EMBEDDING_BACKEND=torch"):
        check_mean_pooling(folder)
    check_mean_pooling(bundled_model_path())


def test_unknown_backend_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown embedding backend"):
        LocalEmbedder(bundled_model_path(), backend="tpu")
