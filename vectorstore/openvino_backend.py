"""The embedding model as static int8 on OpenVINO: quantized locally at first use.

onnxruntime's dynamic int8 (`onnx_backend`) quantizes weights only ahead of time and
measures every activation at run time. OpenVINO with NNCF's post-training quantization
fixes the activation ranges once, from calibration texts shipped with newsrag
(`calibration/`), and runs the int8 matrix products on the CPU's VNNI/AMX units where
it has them; the rest runs in fp32 (bf16, OpenVINO's default where the CPU has it,
moved e5's vectors too far: `OpenVinoEncoder.compiled`). On this
project's 2-core AMD EPYC it encodes 1.2-1.6x faster than the onnxruntime export and
stays closer to fp32 (README, "Speed and memory"). This is what sentence-transformers'
`export_static_quantized_openvino_model` does through optimum-intel, which pins an older
transformers and needs torchvision, so the steps are taken here: the same fp32 ONNX
trace as `onnx_backend`, `openvino.Core.read_model`, `nncf.quantize` with the
transformer preset, `openvino.save_model`. Nothing is downloaded; NNCF's usage
telemetry is off (`rag/__init__.py` sets NNCF_CI before NNCF can be imported).

The word-embedding table stays out of the compiled model. Quantized, it is 250,037 rows
of int8 with a scale per row (96 MB); compiled, OpenVINO's CPU plugin folds it back to
fp32, 384 MB resident in every process that loads the model. The export cuts that lookup
out of the graph (the model takes `inputs_embeds`) and saves the int8 rows and their
scales beside it; the encoder reads them memory-mapped and looks up only the rows of the
pieces it meets: the same products, a third of the memory (README, "Speed and memory").
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from vectorstore.lanes import BULK
from vectorstore.onnx_backend import (
    INPUTS,
    BatchEncoder,
    cache_key,
    check_mean_pooling,
    export_fp32,
    export_stem,
    padded_feeds,
    read_prompts,
    window_tokenizer,
)

EXPORT_VERSION = "2"  # bump when the recipe or the calibration texts change (2: table cut out)
CALIBRATION = Path(__file__).resolve().parent / "calibration" / "texts.jsonl"


def calibration_texts() -> list[str]:
    """Italian paragraphs and questions (SQuAD-it dev half, CC BY-SA 4.0; see calibration/)."""
    lines = CALIBRATION.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def prompted(texts: list[str], prompts: dict[str, str]) -> list[str]:
    """Calibration texts as the model will see them: questions with the query prompt,
    paragraphs with the passage prompt (unchanged for a model without prompts)."""
    query, passage = prompts.get("query", ""), prompts.get("passage", "")
    return [(query if t.endswith("?") and len(t) < 200 else passage) + t for t in texts]


def export_key(model_path: Path) -> str:
    """Changes with the model's weights, this recipe, the calibration texts or prompts."""
    h = hashlib.sha256(f"{cache_key(model_path)}:{EXPORT_VERSION}".encode())
    h.update(CALIBRATION.read_bytes())
    prompts = read_prompts(model_path)
    if prompts:  # MiniLM has none: its key (and cached export) stays as it was
        h.update(json.dumps(prompts, sort_keys=True).encode())
    return h.hexdigest()[:16]


def export_openvino_int8(model_path: Path, cache_dir: Path, max_tokens: int) -> Path:
    """The int8 OpenVINO model (`.xml` + `.bin`, its word-embedding table beside them:
    `table_paths`) for `model_path`, made once in `cache_dir`."""
    check_mean_pooling(model_path)
    target = cache_dir / f"{export_stem(model_path)}-{export_key(model_path)}-ov-int8.xml"
    if all(p.is_file() for p in export_files(target)):
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    import nncf
    import openvino as ov

    tokenizer = window_tokenizer(model_path, max_tokens)
    texts = prompted(calibration_texts(), read_prompts(model_path))
    samples = [padded_feeds([e]) for e in tokenizer.encode_batch(texts)]
    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
        fp32 = Path(tmp) / "model.onnx"
        export_fp32(model_path, fp32)
        quantized = nncf.quantize(
            ov.Core().read_model(str(fp32)),
            nncf.Dataset(samples),
            model_type=nncf.ModelType.TRANSFORMER,
            subset_size=len(samples),
        )
        rows, scales, cut = cut_word_embeddings(quantized)
        xml = Path(tmp) / "model.xml"
        ov.save_model(cut, str(xml), compress_to_fp16=False)
        # The table and the weights first: a reader takes the .xml as the sign that all are whole.
        for array, path in zip((rows, scales), table_paths(target), strict=True):
            np.save(Path(tmp) / path.name, array)
            os.replace(Path(tmp) / path.name, path)
        os.replace(xml.with_suffix(".bin"), target.with_suffix(".bin"))
        os.replace(xml, target)
    return target


EMBEDS = "inputs_embeds"


def table_paths(xml: Path) -> tuple[Path, Path]:
    """Where the export keeps the word-embedding rows (int8) and their scales (float32)."""
    return xml.with_suffix(".rows.npy"), xml.with_suffix(".scales.npy")


def export_files(xml: Path) -> tuple[Path, ...]:
    """Every file of an export: the model, its weights and the word-embedding table."""
    return (xml, xml.with_suffix(".bin"), *table_paths(xml))


def cut_word_embeddings(model: Any) -> tuple[np.ndarray, np.ndarray, Any]:
    """The quantized word-embedding table (int8 rows, a float32 scale per row) and the
    model with its lookup replaced by an `inputs_embeds` input ([batch, tokens, width]).

    The lookup is the Gather of `input_ids` from Multiply(Convert(int8 rows), scales),
    which NNCF's transformer preset makes of the embedding matrix."""
    import openvino as ov

    for op in model.get_ordered_ops():
        if op.get_type_name() != "Gather" or op.get_input_size() < 2:
            continue
        index = op.input_value(1).get_node()
        data = op.input_value(0).get_node()
        if index.get_friendly_name() != "input_ids" or data.get_type_name() != "Multiply":
            continue
        convert, scale = (data.input_value(i).get_node() for i in (0, 1))
        if convert.get_type_name() != "Convert" or scale.get_type_name() != "Constant":
            continue
        rows = convert.input_value(0).get_node()
        if rows.get_type_name() != "Constant":
            continue
        table = np.asarray(rows.get_data(), dtype=np.int8)
        scales = np.asarray(scale.get_data(), dtype=np.float32).reshape(-1)
        if table.ndim != 2 or scales.shape != (table.shape[0],):
            continue
        embeds = ov.opset13.parameter(
            ov.PartialShape([-1, -1, table.shape[1]]), ov.Type.f32, name=EMBEDS
        )
        embeds.output(0).get_tensor().set_names({EMBEDS})
        for target in op.output(0).get_target_inputs():
            target.replace_source_output(embeds.output(0))
        cut = ov.Model(model.get_results(), [*model.get_parameters(), embeds], model.get_name())
        return table, scales, cut
    raise ValueError("no int8 word-embedding lookup of input_ids in the quantized model")


def lookup(rows: np.ndarray, scales: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The dequantized embeddings of `ids` ([batch, tokens] -> [batch, tokens, width]):
    what the cut-out Gather computed, row by row."""
    return rows[ids].astype(np.float32) * scales[ids][..., None]


class OpenVinoEncoder(BatchEncoder):
    """Sentence embeddings from an OpenVINO model: one compiled model per lane, so a
    question's embeddings never queue behind an ingest's batch."""

    # OpenVINO keeps memory for every input width it has run: a server answering questions
    # (each batch a new width) grew by ~490 MB over 200 of them, ~170 MB with widths rounded
    # to 16 tokens, at the same speed and the same vectors (README, "Speed and memory").
    width_multiple = 16

    def __init__(self, xml_path: Path, tokenizer: Any, threads: int) -> None:
        super().__init__(tokenizer)
        self.xml_path = xml_path
        self.threads = threads
        self._compiled: dict[str, Any] = {}
        self._lock = threading.Lock()
        rows, scales = table_paths(xml_path)
        # Memory-mapped: only the pages of the pieces met are read and kept.
        self.rows = np.load(rows, mmap_mode="r")
        self.scales = np.load(scales, mmap_mode="r")
        self.compiled(BULK)  # a broken export fails here, at load, not at the first ingest

    def compiled(self, lane: str) -> Any:
        """The lane's compiled model, compiled at its first use (the second added ~50 MB of
        resident memory, measured: the word-embedding table is outside both)."""
        with self._lock:
            if lane not in self._compiled:
                import openvino as ov

                config: dict[str, Any] = {
                    # One stream with every thread: a request runs on all cores. Two streams
                    # split the threads between requests, which halved a lone request's
                    # speed (ingest 22,500 -> 44,700 chars/s, 12 sentences 159 -> 86 ms).
                    "INFERENCE_NUM_THREADS": self.threads,
                    "NUM_STREAMS": 1,
                    # Each new batch shape (rows x tokens) adds a cached kernel set, ~5 MB for
                    # e5: the default capacity (5,000) let a server grow by GBs.
                    "CPU_RUNTIME_CACHE_CAPACITY": 16,
                    # The products NNCF left unquantized in fp32, not the bf16 OpenVINO picks
                    # on CPUs with AMX or AVX-512 BF16: there e5's query vectors fell to a
                    # cosine of 0.89 to fp32 (mean 0.975) and English questions found their
                    # evidence less often; in fp32 the least is 0.998, at 0.89x the speed.
                    "INFERENCE_PRECISION_HINT": "f32",
                }
                self._compiled[lane] = ov.Core().compile_model(str(self.xml_path), "CPU", config)
            return self._compiled[lane]

    def run(self, feeds: dict[str, np.ndarray], lane: str = BULK) -> np.ndarray:
        compiled = self.compiled(lane)
        # A request per call: the compiled model is shared, a request is not thread-safe.
        request = compiled.create_infer_request()
        inputs = {name: feeds[name] for name in INPUTS}
        inputs[EMBEDS] = lookup(self.rows, self.scales, feeds["input_ids"])
        return np.asarray(request.infer(inputs)[compiled.output(0)])
