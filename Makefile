# Each target installs what it needs into .venv first, so a fresh clone needs only
# `make demo` or `make test`.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/gradcheck eval "1/(2+sin(w1*x1)**2+cos(w2*x2))" --at w1=-3 --at x1=-2 --at w2=2 --at x2=-1
	$(BIN)/gradcheck eval "sum(sigmoid(W @ x)**2)" --at "W=[[1,2,3],[3,1,2],[2,3,1]]" --at "x=[[1],[1],[1]]" \
		--let "q=sigmoid(W @ x)" --claim "x=2 * W.T @ (q * (1 - q) * q)"

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check gradcheck tests
	$(BIN)/ruff format --check gradcheck tests

format: install
	$(BIN)/ruff format gradcheck tests
	$(BIN)/ruff check --fix gradcheck tests

bench: install
	$(BIN)/python tests/bench.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis
