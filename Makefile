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
	@echo "== gradcheck eval: one expression, at random points (seed 0)"
	$(BIN)/gradcheck eval "1/(2+sin(w1*x1)**2+cos(w2*x2))"
	@echo "== gradcheck check problems/: the seeds' worked problems, with their claimed numbers"
	@echo "   and formulas. Those in problems/mistakes/ keep the seeds' mistakes: they are"
	@echo "   expected to FAIL, and each says what is wrong."
	$(BIN)/gradcheck check problems/ -j 2 || true
	@$(BIN)/gradcheck check problems/*.yaml -j 2 --format json > /dev/null \
		&& ! $(BIN)/gradcheck check problems/mistakes -j 2 --format json > /dev/null \
		&& echo "As expected: every problem passes but those in problems/mistakes/, which fail."

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
