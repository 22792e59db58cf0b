# make demo   set up, then train a small model and write irtoy-report/index.html
# make test   set up, then run the test suite (and the numba tests again, bounds-checked)
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
	$(BIN)/pip install --quiet -e '.[test,examples,jax,onnx]'
	touch $@

demo: setup
	$(BIN)/irtoy demo

# The numba-vs-interpreter tests run a second time with Numba's bounds checks on every
# kernel (read by Numba at import), so an out-of-bounds index fails a test instead of
# corrupting memory; their kernels are compiled apart from the unchecked ones. The
# tests/test_numpy_*.py files check NumPy functions on numba too, so they run again as well.
# ONNX's node tests on numba (1,400 small graphs, each compiled) run in this pass only.
NUMBA_NODE_TESTS = tests/test_onnx_node_tests_on_numba.py
BOUNDS_CHECKED_TESTS = tests/test_numba_backend.py tests/test_donation.py tests/test_fusion.py \
	tests/test_numba_nn_kernels.py $(wildcard tests/test_numpy_*.py) $(NUMBA_NODE_TESTS)
BOUNDS_CHECKED_CACHE = .pytest_cache/bounds-checked

# Tests run on every core (pytest-xdist), a test module's tests together in one process; in
# the bounds-checked pass test by test, as one module there (the node tests) is most of it.
PARALLEL = -n auto --dist loadscope

test: setup
	$(BIN)/python -m pytest -q $(PARALLEL) --ignore=$(NUMBA_NODE_TESTS)
	NUMBA_BOUNDSCHECK=1 IRTOY_CACHE_DIR=$(BOUNDS_CHECKED_CACHE)/irtoy-kernels \
		$(BIN)/python -m pytest -q -n auto --dist load -o cache_dir=$(BOUNDS_CHECKED_CACHE) $(BOUNDS_CHECKED_TESTS)

bench: setup
	$(BIN)/irtoy bench

clean:
	rm -rf $(VENV) irtoy-report examples-out .pytest_cache .hypothesis
