# Set-up and entry points of euv2mag.  `make demo`, `make test` and `make docs` each create (or
# refresh) the virtual environment .venv and install what they need from the package registries
# (the package with its optional groups test, aia and docs).
#
# PyTorch is installed first, from TORCH_SPEC (and TORCH_INDEX when set), so that pip never
# pulls a multi-GB CUDA build on a machine without a GPU: the pinned torch==2.13.0 is a CPU
# build on the project's machines; elsewhere use e.g.
#   make test TORCH_INDEX=https://download.pytorch.org/whl/cpu
# and on a GPU machine e.g. `make demo TORCH_SPEC='torch>=2.4'`.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
DEMO_OUT ?= demo-out
DEMO_ARGS ?=
PYTEST_ARGS ?=

BIN := $(VENV)/bin
STAMP := $(VENV)/.euv2mag-installed

.PHONY: demo test docs venv bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || \
	  $(BIN)/python -m pip install -q $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[test,aia,docs]"
	touch $(STAMP)

venv: $(STAMP)

demo: venv
	$(BIN)/euv2mag demo --out $(DEMO_OUT) $(DEMO_ARGS)

test: venv
	EUV2MAG_NO_PROGRESS=1 $(BIN)/python -m pytest -q --durations=15 $(PYTEST_ARGS)

# The documentation (user guide + API reference generated from the docstrings), warnings as
# errors; open docs/_build/html/index.html.
docs: venv
	$(BIN)/python -m sphinx -W --keep-going -q -b html docs docs/_build/html

bench: venv
	for f in benchmarks/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache docs/_build docs/generated
