# Two commands for a fresh machine: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(BIN):$(PATH)
# Offline by design: encoders ship in packages, nothing is fetched at run time.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export DO_NOT_TRACK := 1
# Bytecode caches (git- and DVC-ignored): a machine that turns them off would recompile the
# project's modules and rewrite every test module's asserts in each of the suite's processes.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: setup run test test-fast lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

run: setup
	@test -d .git || git init -q
	# `dvc repro` with all stages on one Prefect server: `graphfuse prefect start`'s if it is up,
	# else one that lives exactly as long as this command.
	$(BIN)/graphfuse repro
	$(BIN)/graphfuse metrics

# Three workers (pytest-xdist), a module to a worker, in the order tests/conftest.py gives: much of
# the suite waits on servers and subprocesses rather than on a core.
TEST_WORKERS ?= 3
test: setup
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# The unit tier: no server, no encoder weights (under 2 minutes on 2 cores).
test-fast: setup
	$(BIN)/python -m pytest -m unit -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

lint: setup
	$(BIN)/ruff check pipeline flows tests benchmarks
	$(BIN)/ruff format --check pipeline flows tests benchmarks
	$(BIN)/mypy  # pipeline/models, pipeline/dataset, pipeline/tracking: see [tool.mypy] in pyproject.toml

clean:
	rm -rf data/processed models metrics plots .prefect mlflow.db mlartifacts

# Benchmarks (issue 10): every speed and quality claim beside its baseline, measured in one run.
# `bench` writes benchmarks/results/latest.json and the table in docs/benchmarks.md (51 min on 2 shared cores at load 6-12,
# plus ~15 min for the 10^6-node scale row);
# `bench-quick` (a few minutes) writes results/quick.json and reports rows >20% worse than latest.json.
.PHONY: bench bench-quick
bench: setup
	$(BIN)/python benchmarks/run.py

bench-quick: setup
	$(BIN)/python benchmarks/run.py --quick
