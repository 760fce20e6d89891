# The two README commands: `make demo` (offline demo) and `make test` (the test suite).
# Both set up a local virtual environment first; nothing else needs installing by hand.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-all bench lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# the CPU build of torch first: a plain `torch` requirement would pull a multi-GB CUDA build
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[offline-models,demo,dev]'
	touch $(STAMP)

demo: setup
	HF_HUB_OFFLINE=1 $(BIN)/mmret demo --out demo-out

test: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

test-all: setup
	HF_HUB_OFFLINE=1 MMR_SLOW=1 $(BIN)/python -m pytest -q

bench: setup
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/eval_offline.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/offline_bridge.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/embed_throughput.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/train_losses.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/audio_retrieval.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/video_retrieval.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/video_memory.py

lint: setup
	$(BIN)/python -m ruff check src tests benchmarks

clean:
	rm -rf $(VENV) demo-out .pytest_cache
