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

.PHONY: setup browser postgres run test test-fast lint clean-venv

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# the machine's local CPU wheel; a plain 'torch' would pull a multi-GB CUDA build
	$(BIN)/python -m pip install torch==2.13.0
	# scale: PostgreSQL store and Ray (optional for users; installed here so the tests exercise them)
	$(BIN)/python -m pip install -e '.[dev,scale]'
	# the default embedded LLM backend: llama.cpp, compiled once (~12 min on 2 cores; pip caches the wheel,
	# so later set-ups take seconds). Optional: if the build fails, the model runs on transformers instead.
	@echo "building llama-cpp-python (first time: about 12 minutes on 2 cores; cached afterwards)"
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install -e '.[llamacpp]' \
	  || echo "WARNING: llama-cpp-python did not build; the embedded LLM falls back to the slower transformers path"
	rm -f $(VENV)/.installed-*
	touch $@

setup: $(STAMP)
	$(BIN)/trustrec data prepare

# The browser tests drive Debian's chromium (Playwright's own browser download is not reachable):
# installed with apt (sudo when not root) the first time; elsewhere, say what to install.
browser:
	@if command -v chromium >/dev/null || [ -x /usr/bin/chromium ]; then exit 0; \
	elif command -v apt-get >/dev/null; then \
	  SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; \
	else echo "the browser tests need chromium on PATH: install it with your package manager"; exit 1; fi

# The PostgreSQL store tests start their own server from Debian's binaries (initdb, pg_ctl): installed with
# apt the first time when missing.
postgres:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || [ -n "$$TRUSTREC_PG_BINDIR" ]; then exit 0; \
	elif command -v apt-get >/dev/null; then \
	  SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql-15 || \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql; \
	else echo "the PostgreSQL store tests need PostgreSQL's server binaries: install them or set TRUSTREC_PG_BINDIR"; exit 1; fi

run: setup
	$(BIN)/trustrec serve

test: setup browser postgres
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# unit tests on tiny fixtures (no trained model, LLM, server or browser): minutes, not the full suite
test-fast: setup
	$(BIN)/python -m pytest -m "not slow and not heavy and not browser" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check catalog retrieval ranker agent evals ui tests
	$(BIN)/ruff format --check catalog retrieval ranker agent evals ui tests
	$(BIN)/mypy catalog retrieval ranker agent evals ui
