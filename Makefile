# Two commands for a fresh machine: `make demo` and `make test`.
# Everything is installed into .venv from nothing; torch is pinned to the
# local CPU wheel (an unpinned torch would pull a multi-GB CUDA build).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-slow lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install torch==2.13.0
	$(PIP) install -e ".[dev,textarena]"
	touch $(STAMP)

demo: install
	$(PY) -m sparring arena tic_tac_toe mcts:sims=200 random --games 40 --seed 0 --show 2

test: install
	$(PY) -m pytest -q

test-slow: install
	$(PY) -m pytest -q -m slow

lint: install
	$(VENV)/bin/ruff check sparring tests benchmarks scripts

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
