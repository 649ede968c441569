# Everything a newcomer needs: `make demo` runs the pipeline on seeds/, `make test` tests it.
# Both create .venv from python3 on first use (nothing else needs to be installed).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
OUT    ?= out/seeds
SHARED ?= ../shared
# Beam leaves empty beam-temp folders in TMPDIR; keep them inside the checkout.
export TMPDIR := $(CURDIR)/.tmp

.PHONY: setup demo test test-quick test-airflow lint imports eval bench clean

$(BIN)/newsbeam: pyproject.toml
	@mkdir -p $(TMPDIR)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@# An editable install leaves NewsBeam's modules uncompiled, and where
	@# PYTHONDONTWRITEBYTECODE is set every process compiles them again (~0.2 s of CPU
	@# before a run's first bundle); a module edited since is compiled afresh as usual.
	$(BIN)/python -m compileall -q pipeline transforms schemas > /dev/null
	@touch $@

setup: $(BIN)/newsbeam

# One dataset ROOT; the run id makes `make demo` again replace the demo's rows, not add them.
demo: setup
	@mkdir -p $(TMPDIR)
	$(BIN)/newsbeam --input seeds --output $(OUT) --run_id demo

# mypy reads the code folders as the package they install as (newsbeam.*), through links:
# setuptools' editable install maps them with an import hook that mypy cannot follow.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@rm -rf $(TMPDIR)/typecheck && mkdir -p $(TMPDIR)/typecheck/newsbeam
	@for d in pipeline transforms schemas; do ln -s $(CURDIR)/$$d $(TMPDIR)/typecheck/newsbeam/$$d; done
	cd $(TMPDIR)/typecheck && $(CURDIR)/$(BIN)/mypy -p newsbeam

# The import graph between the project's modules; fails on a layering violation
# (tests/import_graph.py; tests/test_import_graph.py runs the same check under pytest).
imports: setup
	$(BIN)/python -m tests.import_graph

# pytest-xdist runs the tests on every core (`-n auto`); worksteal evens out the end-to-end
# runs, which take from a second to a minute each. Lint runs beside the suite, its output
# after the suite's (mypy from cold takes 1-2 minutes on one core: run first, it held up
# the suite's start); either failing fails `make test`.
test: setup
	@mkdir -p $(TMPDIR)
	@$(MAKE) --no-print-directory lint > $(TMPDIR)/lint.log 2>&1 & lint=$$!; \
	status=0; $(BIN)/python -m pytest -n auto --dist worksteal || status=$$?; \
	lint_status=0; wait $$lint || lint_status=$$?; \
	echo "--- make lint (beside the suite) ---"; cat $(TMPDIR)/lint.log; \
	echo "make test: pytest exit $$status; make lint exit $$lint_status"; \
	[ $$status -eq 0 ] && [ $$lint_status -eq 0 ]

# Everything but the end-to-end tests marked slow (about half the time of `make test`),
# without lint: for the edit-test loop. `make test` runs all of them.
test-quick: setup
	@mkdir -p $(TMPDIR)
	$(BIN)/python -m pytest -n auto --dist worksteal -m "not slow"

# The Airflow DAG (deploy/airflow/) loaded by Airflow's DagBag: installs Airflow in its own
# environment under .tmp/ (a few minutes, once; then reused). .ci/run runs it beside `make test`.
test-airflow: setup
	@mkdir -p $(TMPDIR)
	NEWSBEAM_TEST_AIRFLOW=1 $(BIN)/python -m pytest tests/test_airflow.py -q -p no:cacheprovider \
		--basetemp=$(TMPDIR)/pytest-airflow

# Quality gates on the labelled data in ../shared (not part of the product). Each gate is one
# process on one core: `make -j$(nproc) eval` (what CI runs) runs them side by side, each
# gate's output kept together.
GATES := eval-extraction eval-cleaning eval-language eval-authors eval-dates eval-titles eval-dedup eval-stories eval-feeds eval-topics
.PHONY: $(GATES)
eval: $(GATES)

# What each gate passes at (its script's flags): benchmarks/README.md says why each level.
GATE_extraction := --gate --goal-aeb 0.96 --goal-fundus 0.945
GATE_cleaning := --gate-false 57 --gate-false-chars 3503
GATE_language := --gate 0.97
GATE_authors := --gate-f1 0.83 --gate-precision 0.88
GATE_dates := --gate 0.92
GATE_titles := --gate 0.80
GATE_dedup := --gate
GATE_stories := --gate 0.90 --gate-small 0.84 --gate-small-precision 0.85
GATE_feeds := --gate 0.99
GATE_topics := --gate 0.90

$(GATES): eval-%: setup
	@mkdir -p $(TMPDIR)
	$(BIN)/python benchmarks/eval_$*.py --shared $(SHARED) $(GATE_$*)

bench: setup
	@mkdir -p $(TMPDIR)
	$(BIN)/python benchmarks/bench_pipeline.py --shared $(SHARED) --moonshot
	$(BIN)/python benchmarks/bench_passes.py --shared $(SHARED) --scales 1,10 --out $(TMPDIR)/bench-passes
	$(BIN)/python benchmarks/bench_dedup.py --shared $(SHARED)
	$(BIN)/python benchmarks/bench_warehouse.py
	$(BIN)/python benchmarks/bench_tagging.py --shared $(SHARED) --gate 0.10
	$(BIN)/python benchmarks/eval_feeds.py --shared $(SHARED) --parse-speed --show 0

clean:
	rm -rf $(VENV) .tmp out .pytest_cache .ruff_cache *.egg-info
