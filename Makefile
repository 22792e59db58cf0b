# make demo   set up, then train a small model and write irtoy-report/index.html
# make test   set up, then run the test suite
# make bench  set up, then compare the interpreter, numba and plain NumPy

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml scripts/install-system-packages.sh
	PYTHON=$(PYTHON) bash scripts/install-system-packages.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,examples]'
	touch $@

demo: setup
	$(BIN)/irtoy demo

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/irtoy bench

clean:
	rm -rf $(VENV) irtoy-report examples-out .pytest_cache .hypothesis
