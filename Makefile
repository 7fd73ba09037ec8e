# Two commands on a fresh machine: `make demo` and `make test`. Both install what they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export CDP_HOME ?= $(CURDIR)/var
PEOPLE ?= 100000
IDENTITY_PEOPLE ?= 20000
ENGINE ?= duckdb
SPARK_PEOPLE ?= 1000000
# The demo's market (cdp/markets/): nl (default, home ./var) or cn (a Chinese retailer, home ./var-cn).
MARKET ?= nl

.PHONY: install demo test test-fast lint lint-python lint-sql bench airflow docs clean

install: $(STAMP)

# Pinned: constraints.txt is the lock (pip freeze of a working install); pyproject.toml holds ranges.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==26.3"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,spark,s3]"
	touch $(STAMP)

demo: install
	$(BIN)/cdp demo --market $(MARKET) $(if $(filter-out nl,$(MARKET)),--home $(CURDIR)/var-$(MARKET))

# Two workers, one test file each at a time (module fixtures build a warehouse once per file); the
# longest files start first and what several files read is built once per run (tests/conftest.py).
# No test uses ./var or the network. Times: docs/benchmarks.md "Test suite times".
# SQL style (one sqlfluff process, ~2 min) runs beside the tests instead of before them; its output is
# printed when both are done, and either failing fails the target.
test: install lint-python
	@mkdir -p $(LINT_DIR)
	@$(MAKE) --no-print-directory lint-sql > $(LINT_DIR)/lint-sql.log 2>&1 & lint=$$!; \
	$(BIN)/pytest -n 2 --dist loadfile --durations=25; tests=$$?; \
	wait $$lint; sql=$$?; \
	echo "--- make lint-sql (run beside the tests): exit $$sql"; cat $(LINT_DIR)/lint-sql.log; \
	test $$tests -eq 0 -a $$sql -eq 0

# The fast lane for every change: ruff, the import layers and the tests not marked slow (unit and
# contract tests, the dbt unit tests; no whole nights, no DAG runs). SQL style (sqlfluff compiles the
# whole dbt project: ~2 min) is left to `make lint` and `make test`.
test-fast: install lint-python
	$(BIN)/pytest -m "not slow" -n 2 --dist loadfile --durations=10

lint: lint-python lint-sql

lint-python: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-logo

# sqlfluff's dbt templater compiles the project against an in-memory warehouse, its dbt files outside
# the repository and the home (nothing under ./var). One process: with --processes each worker runs
# dbt on the same target folder (and, with a warehouse file, fought over its lock).
LINT_DIR := $${TMPDIR:-/tmp}/cdp-lint-$$(id -u)
lint-sql: install
	mkdir -p $(LINT_DIR)
	cd dbt_project && CDP_WAREHOUSE=:memory: CDP_LAKE=$(LINT_DIR)/lake \
		DBT_TARGET_PATH=$(LINT_DIR)/target DBT_LOG_PATH=$(LINT_DIR)/logs \
		$(CURDIR)/$(BIN)/sqlfluff lint models --disable-progress-bar

# Pipeline stages at PEOPLE, identity accuracy per noise level at IDENTITY_PEOPLE, FEBRL4 vs Splink, and
# IDENTITY_PEOPLE FEBRL-style synthetic records through a plain night vs Splink (printed).
# ENGINE=spark: the nightly run on DuckDB and Spark side by side at SPARK_PEOPLE (bench/engine_bench.py,
# about 40 minutes at 1M on 2 cores; the local Spark driver gets 12g unless CDP_SPARK_DRIVER_MEMORY says).
# The 1M identity scale run is separate: $(BIN)/python bench/identity_scale.py (needs a few GB in /tmp).
bench: install
ifeq ($(ENGINE),spark)
	CDP_SPARK_DRIVER_MEMORY=$${CDP_SPARK_DRIVER_MEMORY:-12g} $(BIN)/python bench/engine_bench.py --people $(SPARK_PEOPLE)
else
	$(BIN)/python bench/run_bench.py --people $(PEOPLE)
	$(BIN)/python bench/identity_accuracy.py --people $(IDENTITY_PEOPLE)
	$(BIN)/python bench/identity_benchmark.py
	$(BIN)/python bench/febrl_synthetic.py --records $(IDENTITY_PEOPLE)
endif

docs: install
	$(BIN)/cdp docs

# Airflow's web UI on http://localhost:8080 with all state under $(CDP_HOME)/airflow; the login is
# printed at start-up (and kept in $(CDP_HOME)/airflow/simple_auth_manager_passwords.json.generated).
airflow: install
	PATH=$(CURDIR)/$(BIN):$$PATH AIRFLOW_HOME=$(CDP_HOME)/airflow \
	AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags \
	AIRFLOW__CORE__LOAD_EXAMPLES=False \
	$(BIN)/airflow standalone

clean:
	rm -rf var var-* .pytest_cache .ruff_cache
