# The two-command start: `make test` and `make demo` build .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The CPU build of torch that CI machines carry on disk; `make TORCH=torch` takes
# whatever pip resolves instead (a CUDA build on most Linux machines).
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.installed-docs
RAY_STAMP  := $(VENV)/.installed-ray
# `make RAY=1 test` (CI) also installs the [ray] extra, so the `ray` tests run instead of
# being skipped; the base install and [dev] stay without Ray.
RAY    ?= 0
TEST_STAMP := $(if $(filter 1,$(RAY)),$(RAY_STAMP),$(STAMP))
# loadgroup: the tests of one xdist_group (the Ray tests) share a worker, so one Ray starts.
PYTEST_ARGS ?= -n 2 --dist loadgroup

.PHONY: install test demo lint format bench docs clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

$(RAY_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,ray]"
	touch $(RAY_STAMP)

test: $(TEST_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/rlnoise demo

# ruff (SLF001 included: no private names reached across objects), the import
# contracts of pyproject.toml's [tool.importlinter] (layers, no cycles), mypy.
lint: $(STAMP)
	$(BIN)/ruff check rlnoise tests scripts
	$(BIN)/ruff format --check rlnoise tests scripts
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix rlnoise tests scripts
	$(BIN)/ruff format rlnoise tests scripts

# The API reference, built from the docstrings into site/; any warning fails the build.
$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,docs]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	$(BIN)/cffconvert --validate -i CITATION.cff
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

bench: $(STAMP)
	set -e; for script in scripts/bench_*.py; do echo "== $$script"; $(BIN)/python $$script; done

clean:
	rm -rf $(VENV) site .pytest_cache .mypy_cache .ruff_cache .hypothesis
