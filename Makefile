# Two commands do everything on a fresh machine:
#   make run    set up (venv, packages, dataset) if needed, then run the main job
#   make test   set up if needed, then run the test suite
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)
PYTEST_ARGS ?=
# llama.cpp's default build tunes for the building CPU (GGML_NATIVE), which crashed here: build portable
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF

.PHONY: setup run test lint clean-venv

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# the machine's local CPU wheel; a plain 'torch' would pull a multi-GB CUDA build
	$(BIN)/python -m pip install torch==2.13.0
	$(BIN)/python -m pip install -e '.[dev]'
	# the default embedded LLM backend: llama.cpp, compiled once (~12 min on 2 cores; pip caches the wheel,
	# so later set-ups take seconds). Optional: if the build fails, the model runs on transformers instead.
	@echo "building llama-cpp-python (first time: about 12 minutes on 2 cores; cached afterwards)"
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install -e '.[llamacpp]' \
	  || echo "WARNING: llama-cpp-python did not build; the embedded LLM falls back to the slower transformers path"
	rm -f $(VENV)/.installed-*
	touch $@

setup: $(STAMP)
	$(BIN)/trustrec data prepare

run: setup
	$(BIN)/trustrec serve

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check catalog retrieval ranker agent evals ui tests
	$(BIN)/ruff format --check catalog retrieval ranker agent evals ui tests
	$(BIN)/mypy catalog retrieval ranker agent evals ui
