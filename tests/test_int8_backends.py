"""The int8 backends (OpenVINO, onnxruntime): exported locally, same chunks as torch,
near-identical vectors, and a store shared with the fp32 backend. Run on the bundled
MiniLM (`minilm`), which exports in seconds; multilingual-e5-small takes minutes."""

from __future__ import annotations

import gzip
import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest

from eval.calibration_texts import calibration_texts as select_calibration_texts
from eval.datasets import SQUAD_IT
from rag.errors import ConfigError
from tests.conftest import SEED_FILES, make_service
from vectorstore.embeddings import LocalEmbedder, bundled_model_path
from vectorstore.ingest import chunk_article
from vectorstore.lanes import BULK, QUESTION
from vectorstore.loaders import read_article
from vectorstore.onnx_backend import check_mean_pooling, padded_feeds, split_batches
from vectorstore.openvino_backend import (
    EMBEDS,
    OpenVinoEncoder,
    calibration_texts,
    lookup,
    table_paths,
)

pytestmark = pytest.mark.integration


def fresh_embedder(factory: pytest.TempPathFactory, backend: str) -> LocalEmbedder:
    return LocalEmbedder(bundled_model_path(), backend=backend, cache_dir=factory.mktemp(backend))


@pytest.fixture(scope="module")
def onnx_embedder(tmp_path_factory: pytest.TempPathFactory) -> LocalEmbedder:
    return fresh_embedder(tmp_path_factory, "onnx-int8")


@pytest.fixture(scope="module")
def openvino_embedder(tmp_path_factory: pytest.TempPathFactory) -> LocalEmbedder:
    return fresh_embedder(tmp_path_factory, "openvino-int8")


def exported_once(embedder: LocalEmbedder, pattern: str) -> Path:
    """The one cached file matching `pattern`: made at first use, reused by a new embedder."""
    embedder.embed_query("prima chiamata")
    files = list(embedder.cache_dir.glob(pattern))
    assert len(files) == 1, files
    stamp = files[0].stat().st_mtime_ns
    again = LocalEmbedder(bundled_model_path(), backend=embedder.backend,
                          cache_dir=embedder.cache_dir)  # fmt: skip
    again.embed_query("seconda chiamata")
    assert files[0].stat().st_mtime_ns == stamp  # reused, not re-exported
    return files[0]


FP32_BYTES = (bundled_model_path() / "model.safetensors").stat().st_size


def test_export_is_local_cached_and_int8(onnx_embedder: LocalEmbedder) -> None:
    model = exported_once(onnx_embedder, "*-int8.onnx")
    assert model.stat().st_size < FP32_BYTES / 2  # int8 weights: about a quarter
    # onnxruntime's fusions matched the traced graph: one int8 attention node per layer.
    ops = Counter(node.op_type for node in onnx.load(str(model)).graph.node)
    assert ops["QAttention"] == 6 and ops["SkipLayerNormalization"] == 12, ops


def test_openvino_export_is_local_cached_and_int8(openvino_embedder: LocalEmbedder) -> None:
    xml = exported_once(openvino_embedder, "*-ov-int8.xml")
    rows, scales = table_paths(xml)
    assert sorted(p.name for p in openvino_embedder.cache_dir.iterdir()) == sorted(
        [xml.with_suffix(".bin").name, xml.name, rows.name, scales.name]
    )
    # Static int8: int8 weights (about a quarter of the fp32 safetensors), and
    # quantize/dequantize steps on the activations of every layer's matrix products.
    assert xml.with_suffix(".bin").stat().st_size < FP32_BYTES / 2
    graph = xml.read_text()
    assert graph.count('type="FakeQuantize"') >= 6 * 6, "expected int8 activations per layer"
    assert 'element_type="i8"' in graph
    # The word-embedding table is out of the graph (compiled, it would be fp32 in memory):
    # int8 rows with a scale each beside it, and the model takes their lookup as input.
    assert f'name="{EMBEDS}"' in graph
    table, scale = np.load(rows, mmap_mode="r"), np.load(scales)
    assert table.dtype == np.int8 and table.shape == (30522, 384) and scale.shape == (30522,)
    # Calibration texts ship with newsrag: Italian paragraphs and short questions.
    texts = calibration_texts()
    assert len(texts) > 200 and any(t.endswith("?") and len(t) < 200 for t in texts)


def test_the_lookup_dequantizes_the_rows_of_the_ids() -> None:
    rows = np.array([[1, -2], [3, 4], [-5, 6]], dtype=np.int8)
    scales = np.array([0.5, 0.25, 2.0], dtype=np.float32)
    out = lookup(rows, scales, np.array([[2, 0], [1, 1]]))
    assert out.dtype == np.float32 and out.shape == (2, 2, 2)
    assert out.tolist() == [[[-10.0, 12.0], [0.5, -1.0]], [[0.75, 1.0], [0.75, 1.0]]]


def test_a_batch_pads_to_its_longest_text_rounded_to_the_multiple() -> None:
    class Encoding:
        def __init__(self, n: int) -> None:
            self.ids, self.attention_mask, self.type_ids = [5] * n, [1] * n, [0] * n

    batch = [Encoding(3), Encoding(18)]
    assert padded_feeds(batch)["input_ids"].shape == (2, 18)
    feeds = padded_feeds(batch, 16)
    assert all(f.shape == (2, 32) for f in feeds.values())
    assert feeds["attention_mask"].sum(axis=1).tolist() == [3, 18]  # the padding is masked
    assert padded_feeds([Encoding(16)], 16)["input_ids"].shape == (1, 16)


def test_batches_split_where_padding_costs_more_than_a_call() -> None:
    """The split with the fewest padded tokens plus a cost per call, against every split."""
    import itertools
    import random

    def cost(spans: list[tuple[int, int]], widths: list[int], call: int) -> int:
        return sum((b - a) * widths[a] + call for a, b in spans)

    rng = random.Random(0)
    for _ in range(200):
        widths = sorted((16 * rng.randint(1, 12) for _ in range(rng.randint(1, 8))), reverse=True)
        most, call = rng.randint(1, 8), rng.choice([0, 64, 128, 1000])
        spans = split_batches(widths, most, call)
        assert [a for a, _ in spans] == [0, *(b for _, b in spans[:-1])] and spans[-1][1] == len(
            widths
        )
        assert all(0 < b - a <= most for a, b in spans)
        every = []
        for cuts in itertools.product([False, True], repeat=len(widths) - 1):
            ends = [i + 1 for i, c in enumerate(cuts) if c] + [len(widths)]
            split = list(zip([0, *ends[:-1]], ends, strict=True))
            if all(b - a <= most for a, b in split):
                every.append(cost(split, widths, call))
        assert cost(spans, widths, call) == min(every)
    # A question's candidates: the one long sentence alone, the short ones together.
    assert split_batches([96, 80, 48, 48, 48, 32, 32, 32, 32, 32, 32, 16], 16, 128) == [
        (0, 2),
        (2, 12),
    ]
    assert split_batches([], 16, 128) == []


def test_shipped_calibration_texts_are_the_documented_selection() -> None:
    squad = json.loads(gzip.decompress(SQUAD_IT.read_bytes()))
    assert calibration_texts() == select_calibration_texts(squad)


@pytest.mark.parametrize("backend", ["openvino-int8", "onnx-int8"])
def test_same_chunks_and_near_identical_vectors(
    backend: str,
    onnx_embedder: LocalEmbedder,
    openvino_embedder: LocalEmbedder,
    minilm: LocalEmbedder,
) -> None:
    int8 = openvino_embedder if backend == "openvino-int8" else onnx_embedder
    articles = [read_article(p, 1_000_000) for p in SEED_FILES]
    for article in articles:
        torch_chunks = chunk_article(article, minilm, 254, 1)
        assert chunk_article(article, int8, 254, 1) == torch_chunks
    texts = [c.text for a in articles for c in chunk_article(a, minilm, 254, 1)]
    texts += ["Chi è il portavoce del Cremlino?", "Dove sono stazionate le truppe?"]
    a = np.array(minilm.embed_documents(texts))
    b = np.array(int8.embed_documents(texts))
    cosine = (a * b).sum(axis=1)
    assert cosine.min() > 0.97 and np.allclose(np.linalg.norm(b, axis=1), 1, atol=1e-3)
    single = np.array(int8.embed_documents(texts[:1]))
    if backend == "onnx-int8":
        # Dynamic quantization scales activations per batch, so a text's vector moves a
        # little with its batch; it stays the same direction.
        assert float(single[0] @ b[0]) > 0.98
    else:
        # Static quantization fixed the ranges at export: the batch does not matter.
        assert float(single[0] @ b[0]) > 0.999


def test_questions_have_their_own_compiled_model(openvino_embedder: LocalEmbedder) -> None:
    """A question and its candidate sentences run on the question lane's compiled model, an
    ingest's passages on the bulk lane's: a question never queues behind an ingest's batch.
    Both lanes give the same vectors."""
    encoder = openvino_embedder.encoder
    assert isinstance(encoder, OpenVinoEncoder)
    lanes: list[str] = []
    run = encoder.run

    def spy(feeds: dict[str, np.ndarray], lane: str = BULK) -> np.ndarray:
        lanes.append(lane)
        return run(feeds, lane)

    encoder.run = spy  # type: ignore[method-assign]
    try:
        texts = ["Il Cremlino ha risposto.", "Le truppe restano al confine con la Polonia."]
        documents = np.array(openvino_embedder.embed_documents(texts))
        assert lanes == [BULK]
        sentences = np.array(openvino_embedder.embed_sentences(texts))
        openvino_embedder.embed_query("Chi ha risposto?")
        assert lanes == [BULK, QUESTION, QUESTION]
    finally:
        del encoder.run
    assert encoder.compiled(BULK) is not encoder.compiled(QUESTION)
    assert encoder.compiled(QUESTION).get_property("NUM_STREAMS") == 1
    assert np.allclose(documents, sentences, atol=1e-6)


def test_a_store_is_shared_between_backends(
    openvino_embedder: LocalEmbedder, minilm: LocalEmbedder, tmp_path: Path
) -> None:
    """Same model name: a store built with one backend answers through the other."""
    built = make_service(tmp_path, openvino_embedder)
    built.ingest(SEED_FILES)
    reader = make_service(tmp_path, minilm)
    assert reader.store.counts() == built.store.counts()
    assert "Peskov" in reader.ask("Chi è il portavoce del Cremlino?").answer
    vector = minilm.embed_query("garanzie di sicurezza per l'Ucraina")
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


@pytest.mark.parametrize("backend", ["openvino-int8", "onnx-int8"])
def test_a_broken_model_is_a_config_error_naming_the_fix(backend: str, tmp_path: Path) -> None:
    folder = tmp_path / "broken-model"
    shutil.copytree(bundled_model_path(), folder)
    (folder / "model.safetensors").write_bytes(b"not a safetensors file")
    broken = LocalEmbedder(folder, backend=backend, cache_dir=tmp_path / "cache")
    with pytest.raises(ConfigError, match=r"export or load failed.*EMBEDDING_BACKEND=torch"):
        broken.embed_query("una domanda")


def test_unknown_backend_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown embedding backend"):
        LocalEmbedder(bundled_model_path(), backend="tpu")
