# The two README commands: `make demo` (offline demo) and `make test` (the test suite).
# Both set up a local virtual environment first; nothing else needs installing by hand.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# every package version that `make setup` installs, resolved from pyproject's ranges by `make lock`
LOCK := requirements.lock
TORCH := torch==2.13.0+cpu

.PHONY: setup demo test test-all bench lint lock clean

setup: $(STAMP)

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	# the CPU build of torch first: a plain `torch` requirement would pull a multi-GB CUDA build
	$(BIN)/pip install -q -c $(LOCK) $(TORCH)
	$(BIN)/pip install -q -c $(LOCK) -e '.[offline-models,demo,dev]'
	touch $(STAMP)

# Re-resolve the lock after changing pyproject's dependencies: pins already in the lock are kept where they still
# fit; `make lock UPGRADE=--upgrade` takes the newest releases the ranges allow.
lock: setup
	printf '%s\n' '$(TORCH)' > $(VENV)/torch-override.txt
	$(BIN)/uv pip compile pyproject.toml --all-extras --python-version 3.11 --find-links /opt/wheels \
		--override $(VENV)/torch-override.txt --custom-compile-command 'make lock' $(UPGRADE) -o $(LOCK)

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
