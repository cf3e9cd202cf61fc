# newsrag: two commands for a fresh machine — `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 7860

# Offline and telemetry-free everywhere: nothing here may reach a model hub or phone home.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export ANONYMIZED_TELEMETRY := False
export GRADIO_ANALYTICS_ENABLED := False
export NNCF_CI := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install run test lint typecheck pytest eval bench browser screenshot clean

install: $(STAMP)

# torch is pinned to the CPU build in pyproject.toml; an unpinned torch pulls gigabytes of CUDA.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	test -x $(BIN)/newsrag
	touch $@

run: install
	$(BIN)/newsrag ingest --if-empty seeds
	$(BIN)/newsrag serve --host $(HOST) --port $(PORT)

# Debian's chromium for the browser tests (no browser download from a test tool).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

pytest: install browser
	$(BIN)/python -m pytest

test: lint typecheck pytest

eval: install
	$(BIN)/newsrag eval --dataset seeds --out eval-results/seeds
	$(BIN)/newsrag eval --dataset seeds-blind --out eval-results/seeds-blind
	$(BIN)/newsrag eval --dataset followups-seeds-blind --out eval-results/followups-seeds-blind
	$(BIN)/newsrag eval --dataset squad-it --limit 600 --sample-seed 0 --out eval-results/squad-it
	$(BIN)/newsrag eval --dataset multilingual --out eval-results/multilingual
	$(BIN)/newsrag eval --dataset followups --out eval-results/followups
	$(BIN)/newsrag eval --dataset multilingual-blind --out eval-results/multilingual-blind
	$(BIN)/newsrag eval --dataset followups-blind --out eval-results/followups-blind
	$(BIN)/newsrag eval --dataset multilingual-fresh --out eval-results/multilingual-fresh
	$(BIN)/newsrag eval --dataset followups-fresh --out eval-results/followups-fresh

# Speed and memory at three sizes (seeds, SQuAD-it dev half, ~100k generated chunks), each next
# to its baselines; the 100k size takes about 35 minutes on 2 cores. BENCH_SIZES=seeds,squad for less.
BENCH_SIZES ?= seeds,squad,100k
bench: install
	$(BIN)/newsrag eval --dataset squad-it --out bench-results/squad-it-full
	$(BIN)/python -m bench.load --serve --clients 20 --seconds 60 --out bench-results/load
	$(BIN)/python -m bench.run --sizes $(BENCH_SIZES) --out bench-results
	$(BIN)/python -m bench.chunk_writes --out bench-results/chunk-writes.json
	$(BIN)/python -m bench.duplicate_path --out bench-results/duplicate-path.json
	$(BIN)/python -m bench.concurrency --out bench-results/concurrency.json
	$(BIN)/python -m bench.server_100k --out bench-results/server-100k.json

# Refresh the README's screenshot (docs/screenshot.png) from the browser test.
screenshot: install browser
	NEWSRAG_UPDATE_SCREENSHOT=1 $(BIN)/python -m pytest tests/test_browser.py -k highlights -q

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
