# Two commands on a fresh machine:  `make demo` (main job)  and  `make test` (tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export RAGAS_DO_NOT_TRACK := true

.PHONY: install demo test test-all test-compose bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# the local CPU build of torch first: an unpinned torch would pull a multi-GB CUDA build
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,eval]'
	touch $@

demo: install
	$(BIN)/rag demo

test: install
	$(BIN)/python -m pytest -q

test-all: install
	$(BIN)/python -m pytest -q -m "not gpu and not compose"

test-compose: install
	$(BIN)/python -m pytest -q -m compose tests/compose

bench: install
	$(BIN)/python benchmarks/retrieval.py

clean:
	rm -rf $(VENV) build *.egg-info
