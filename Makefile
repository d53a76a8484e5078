# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo
DEMO_PATIENTS ?= 20000
DEMO_SEED ?= 7
PORT ?= 3000
PIP_QUIET := -q --disable-pip-version-check

.PHONY: setup demo test bench lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_QUIET) -e '.[dev]' 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python -c "import features, training, serving, lightgbm, mlflow, bentoml, evidently, shap"
	touch $@

# The Spark engine is an optional extra; the test suite needs it (its tests run Spark local).
$(VENV)/.installed-spark: $(VENV)/.installed
	$(BIN)/pip install $(PIP_QUIET) -e '.[dev,spark]' 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python -c "import pyspark"
	touch $@

demo: setup
	BIN=$(BIN) DEMO_DIR=$(DEMO_DIR) DEMO_PATIENTS=$(DEMO_PATIENTS) DEMO_SEED=$(DEMO_SEED) PORT=$(PORT) scripts/demo.sh

test: setup $(VENV)/.installed-spark
	$(BIN)/pytest -q

bench: setup
	$(BIN)/python bench/run_all.py

lint: setup
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
