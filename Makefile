# Two commands for a fresh machine: `make demo` and `make test`.
# Everything is installed into .venv from nothing; torch is pinned to the
# local CPU wheel (an unpinned torch would pull a multi-GB CUDA build).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-bf16 test-fp32 test-slow lint bench clean browser

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install torch==2.13.0
	$(PIP) install -e ".[dev,textarena,math,ray]"
	touch $(STAMP)

# The demo: the bundled tiny model learns tic-tac-toe on the CPU for
# DEMO_MINUTES, in a league whose member is perfect play (`minimax`; the
# tictactoe recipe says why), then prints a before/after table vs random and
# minimax and the path of its HTML report.
DEMO_MINUTES ?= 5
demo: install
	$(PY) -m sparring train tictactoe name=demo max_minutes=$(DEMO_MINUTES)

# The suite runs in the precision `auto` picks here (bf16 autocast on a CPU with
# native bf16, fp32 without); test-bf16 and test-fp32 force the other kind of
# machine's choice through SPARRING_PRECISION (README, "Development").
SUITE := SPARRING_REQUIRE_BROWSER=1 $(PY) -m pytest -q

test: install browser
	$(SUITE)

test-bf16 test-fp32: install browser
	SPARRING_PRECISION=$(@:test-%=%) $(SUITE)

# The report tests drive a real headless chromium: Debian's package, never a
# playwright download. Does nothing when it is there (CI runs as root on Debian).
browser:
	@[ -e /usr/bin/chromium ] || (apt-get update -qq && apt-get install -y -qq chromium)

test-slow: install
	$(PY) -m pytest -q -m slow

lint: install
	$(VENV)/bin/ruff check sparring tests benchmarks

# The speed benchmarks (a few minutes); the learning benchmarks take 10-30
# minutes each and are run one by one (README, "Learning benchmarks").
bench: install
	$(PY) benchmarks/generation_throughput.py
	$(PY) benchmarks/rollout_throughput.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
