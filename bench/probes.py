"""Jobs `bench.run` starts in processes of their own; each writes one JSON file (`--out`).

    python -m bench.probes settings --out F    what `newsrag serve` runs with in this
                                               environment: settings, model, backend, export
    python -m bench.probes fp32 --model DIR --started T --out F
                                               plain sentence-transformers fp32: load the model,
                                               embed one query; seconds since T and RSS (the
                                               baseline of the server's cold start and memory)
    python -m bench.probes export --model DIR --out F
                                               the first-use OpenVINO int8 export of DIR into a
                                               fresh temporary cache folder, timed (imports
                                               included, as on a first `newsrag serve`)

A process of its own because its memory and start-up are what is measured, and because the
export's torch and NNCF must not swell the benchmark process.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil


def _mb(n_bytes: float) -> int:
    return round(n_bytes / 2**20)


def peak_rss_mb() -> int:
    """This process's peak RSS since it started: VmHWM, which `exec` resets (ru_maxrss keeps
    the parent's peak across fork and exec, so a child started from a big process reports it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return _mb(psutil.Process().memory_info().rss)


def model_window(model_path: Path) -> int:
    """The window `LocalEmbedder` exports with: the folder's max_seq_length."""
    config = json.loads((model_path / "sentence_bert_config.json").read_text())
    return int(config["max_seq_length"])


def cached_export(model_path: Path, cache_dir: Path) -> Path:
    """Where `export_openvino_int8` keeps (or would make) the export of `model_path`."""
    from vectorstore.onnx_backend import export_stem
    from vectorstore.openvino_backend import export_key

    return cache_dir / f"{export_stem(model_path)}-{export_key(model_path)}-ov-int8.xml"


def settings_facts() -> dict[str, Any]:
    """The service `newsrag serve` builds from this environment, without opening the store."""
    from rag.service import NewsQA
    from rag.settings import load_settings
    from vectorstore.openvino_backend import export_files

    settings = load_settings()
    embedder = NewsQA.from_settings(settings).embedder
    export = cached_export(embedder.model_path, embedder.cache_dir)
    return {
        "embedding_model": str(settings.embedding_model),
        "embedding_backend": settings.embedding_backend,
        "model_name": embedder.name,
        "model_path": str(embedder.model_path),
        "query_prompt": embedder.query_prompt,
        "passage_prompt": embedder.passage_prompt,
        "dense_weight": settings.dense_weight,
        "rerank": settings.rerank,
        "chunk_tokens": settings.chunk_tokens,
        "max_tokens": embedder.max_tokens,
        "model_cache_dir": str(embedder.cache_dir),
        "int8_export": str(export),
        "int8_export_cached": all(p.is_file() for p in export_files(export)),
    }


def fp32_start(model_path: Path, started: float) -> dict[str, Any]:
    """Load the model as plain sentence-transformers fp32 and embed one query."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)
    model.encode(["query: avvio"], normalize_embeddings=True)
    ready = time.time()
    return {
        "start_s": round(ready - started, 1),
        "rss_mb": _mb(psutil.Process().memory_info().rss),
        "peak_rss_mb": peak_rss_mb(),
    }


def export_time(model_path: Path) -> dict[str, Any]:
    """`export_openvino_int8` of `model_path` into a fresh temporary cache folder."""
    from vectorstore.embeddings import default_cache_dir
    from vectorstore.openvino_backend import export_openvino_int8

    window = model_window(model_path)
    with tempfile.TemporaryDirectory(prefix="newsrag-export-") as cache:
        started = time.perf_counter()
        xml = export_openvino_int8(model_path, Path(cache), window)
        seconds = time.perf_counter() - started
        made = xml.with_suffix(".bin").stat().st_size
    cached = cached_export(model_path, default_cache_dir()).with_suffix(".bin")
    return {
        "model_path": str(model_path),
        "window": window,
        "seconds": round(seconds, 1),
        "export": xml.name,
        "bin_mb": _mb(made),
        "cached_bin_mb": _mb(cached.stat().st_size) if cached.is_file() else None,
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("job", choices=("settings", "fp32", "export"))
    parser.add_argument("--model", type=Path)
    parser.add_argument("--started", type=float, help="fp32: time.time() before the process")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.job == "settings":
        facts = settings_facts()
    elif args.job == "fp32":
        facts = fp32_start(args.model, args.started)
    else:
        facts = export_time(args.model)
    args.out.write_text(json.dumps(facts, indent=2))


if __name__ == "__main__":
    main()
