# Two commands do all set-up: `make book` and `make test` (see README.md).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Kernels from this environment come first, whatever else the machine has.
export JUPYTER_PATH := $(CURDIR)/$(VENV)/share/jupyter
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: install check book test test-full test-matrix student publish-student bench gpu-wheels gpu-check clean

install: $(STAMP)

# Re-runs only when a dependency file changes; a second `make` skips installing.
$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -c constraints.txt -r requirements.txt -e .
	touch $@

# Lint, format and types of the package, tests, scripts and benchmarks, in seconds (before a commit).
check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# A fresh sweep cache: every number on the built pages is computed during the build.
book: $(STAMP)
	rm -rf _build/sweep-cache
	TQDM_DISABLE=1 QROBUST_BOOK_BUILD=1 QROBUST_CACHE=$(CURDIR)/_build/sweep-cache \
		$(BIN)/jupyter-book build . --all -W -n --keep-going
	$(BIN)/python scripts/check_links.py _build/html
	@echo "Book built: $(CURDIR)/_build/html/index.html"

test: $(STAMP)
	$(BIN)/python -m pytest tests qrobust_lite --doctest-modules -p no:cacheprovider -m "not slow"
	$(BIN)/python -m pytest --nbval-lax --nbval-current-env book -p no:cacheprovider

# make test, then the slow tests: a stored full-scale run re-run and compared (a few minutes).
test-full: test
	$(BIN)/python -m pytest tests -p no:cacheprovider -m slow

# The learner's-machine test (in `make test` with Python 3.11 and the CPU torch) on Python 3.12
# and 3.13 with the registry's torch: a CUDA build, several GB to download. Not run by CI.
test-matrix: $(STAMP)
	$(BIN)/python scripts/learner_machine.py --python 3.12 --torch torch
	$(BIN)/python scripts/learner_machine.py --python 3.13 --torch torch

# The student edition: hand-out notebooks without solutions, and a book without them.
student: $(STAMP)
	$(BIN)/python scripts/student_edition.py --out student
	TQDM_DISABLE=1 QROBUST_BOOK_BUILD=1 $(BIN)/jupyter-book build student/src --path-output student --all -W -n --keep-going
	$(BIN)/python scripts/check_links.py student/_build/html
	@echo "Student book: $(CURDIR)/student/_build/html/index.html; hand-outs: $(CURDIR)/student/notebooks/"

# The branch the book's Binder and Colab buttons open: the hand-outs, made from the committed
# HEAD, on branch `student` (nothing else in the checkout changes). Push it after: git push origin student
publish-student: $(STAMP)
	$(BIN)/python scripts/student_edition.py --branch student

# The fast path against stock PennyLane and TensorCircuit-NG (the bench extra: JAX, cotengra,
# added to .venv; nothing else imports it), then against each peer set up as its documentation
# recommends (strongest_peer.py, three rounds), written for the README and the Performance appendix.
# About 40 min (8 and 30 on this course's 2-core machine).
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[bench]"
	$(BIN)/python benchmarks/fast_path.py --json benchmarks/fast_path.json
	$(BIN)/python benchmarks/strongest_peer.py --rounds 3 --json benchmarks/strongest_peer.json

# What a CUDA machine with its own torch (Python 3.12, no registry) lacks for gpu-check: wheels,
# and MNIST's official training files from GPU_DATA (default: the course's copy beside the
# checkout, where there is one; else the package's search), into .whl/ (ignored by git; a device
# call carries it). See scripts/gpu_wheels.py.
GPU_DATA ?= $(wildcard ../shared/data)
gpu-wheels: $(STAMP)
	$(BIN)/python scripts/gpu_wheels.py --out .whl $(if $(GPU_DATA),--data-root $(GPU_DATA))

# On a CUDA machine, with its own python3 and torch: the GPU check in one go (within 7 minutes),
# into the file GPU_JSON (on a lent machine, put it in a folder whose files come back; it refuses
# to overwrite an earlier record). Without CUDA it says so and exits 0. Needs no .venv.
GPU_PYTHON ?= python3
GPU_JSON ?= benchmarks/gpu_check.json
gpu-check:
	$(GPU_PYTHON) benchmarks/gpu_check.py --json $(GPU_JSON)

clean:
	rm -rf _build student
