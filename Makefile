# Each target installs what it needs into .venv first, so a fresh clone needs only
# `make demo` or `make test`.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint format bench mutate clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	@echo "== gradcheck eval: one expression, at random points (seed 0)"
	$(BIN)/gradcheck eval "1/(2+sin(w1*x1)**2+cos(w2*x2))"
	@echo "== gradcheck check problems/: the seeds' worked problems, with their claimed numbers,"
	@echo "   formulas and Jacobians. Those in problems/mistakes/ keep the seeds' mistakes: they"
	@echo "   are expected to FAIL, and each says what is wrong."
	$(BIN)/gradcheck check problems/ -j 2 || true
	@$(BIN)/gradcheck check problems/*.yaml -j 2 --format json > /dev/null \
		&& ! $(BIN)/gradcheck check problems/mistakes -j 2 --format json > /dev/null \
		&& echo "As expected: every problem passes but those in problems/mistakes/, which fail."
	@echo "== gradcheck func: your own NumPy code. examples/layers.py is right (PASS);"
	@echo "   examples/layers_buggy.py and examples/softmax.py plant the students' mistakes, which"
	@echo "   are expected to FAIL with what is wrong said in words."
	cd examples && ../$(BIN)/gradcheck func layers.py:affine_forward --backward layers.py:affine_backward \
		--at "x=random(4,5)" --at "w=random(5,3)" --at "b=random(3)"
	cd examples && ../$(BIN)/gradcheck func layers.py:softmax_loss --at "x=random(6,10)" \
		--at "y=[1,3,0,9,2,2]" --wrt x
	cd examples && ../$(BIN)/gradcheck func layers_buggy.py:l2_loss --at "w=random(2,2)" \
		--at "reg=0.1" --wrt w || true
	cd examples && ../$(BIN)/gradcheck func softmax.py:softmax_forward \
		--backward softmax.py:softmax_backward --at "o=random(2,3)" || true
	@echo "== a vector-valued expression: its whole Jacobian (seed 004, problem 1.2)"
	$(BIN)/gradcheck eval "relu(x)" --at "x=[-2,1,3]"
	@if [ -f examples/homework.yaml ]; then \
		echo "== gradcheck check examples/homework.yaml --allow-code: problem files that run code"; \
		$(BIN)/gradcheck check examples/homework.yaml --allow-code || true; fi

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

# Mutation testing of the numerics and the judging (engine/ops, estimate/finite.py,
# judge/; [tool.mutmut] in pyproject.toml). mutmut 3 mutates a copy in mutants/ and never
# the sources; each mutant runs only the tests that reach the function it changes. Not
# part of `make test`: a fresh run takes over an hour on 2 cores (about 2,800 mutants).
# Code that runs only at import (the op table's entry builders) is not re-run per mutant,
# so its mutants survive here by construction. Then `$(BIN)/mutmut show NAME` shows a
# survivor and `$(BIN)/mutmut run NAME` re-tests it.
mutate: install
	rm -rf mutants
	HYPOTHESIS_PROFILE=ci $(BIN)/mutmut run --max-children 2
	@$(BIN)/mutmut results --all true | awk ' \
		{ k = $$1; sub(/:$$/, "", k); sub(/\.[^.]*$$/, "", k); n[k]++; \
		  if ($$2 == "killed" || $$2 == "timeout") d[k]++; else print } \
		END { for (m in n) printf "%-30s %4d of %4d killed (%.0f%%)\n", m, d[m], n[m], 100 * d[m] / n[m] }'

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis
