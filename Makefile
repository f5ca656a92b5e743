# The two commands a new user runs: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# checkov pins many libraries of its own, so it lives in a virtual environment of its own.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV    := .venv-checkov
CHECKOV_STAMP   := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)
# Test processes (pytest-xdist); each test file runs whole in one of them.
TEST_WORKERS    ?= 2
PYTEST          := $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

.PHONY: venv lint validate test test-fast demo render lambda-zip clean

# Create or refresh the virtual environment whenever the declared dependencies change.
$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23.2"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

$(CHECKOV_STAMP):
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade "pip>=23.2"
	$(CHECKOV_VENV)/bin/python -m pip install --quiet "checkov==$(CHECKOV_VERSION)"
	touch $(CHECKOV_STAMP)

venv: $(STAMP)

# ruff's lint rules and format check (settings in pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Each workflow's training and scoring state machines and the Step Functions role against AWS's rules
# (offline, a few seconds each).
validate: $(STAMP)
	@for workflow in workflows/*.py; do $(BIN)/mlops-pipeline validate --workflow $$workflow || exit 1; done

# Includes `terraform fmt -check` and checkov over infra/terraform (tests/test_terraform.py).
test: lint validate $(STAMP) $(CHECKOV_STAMP)
	CHECKOV=$(CHECKOV_VENV)/bin/checkov $(PYTEST)

# Everything except the slow end-to-end pipeline runs.
test-fast: lint $(STAMP) $(CHECKOV_STAMP)
	CHECKOV=$(CHECKOV_VENV)/bin/checkov $(PYTEST) -m "not slow"

demo: $(STAMP)
	$(BIN)/mlops-pipeline demo

render: $(STAMP)
	$(BIN)/python -m mlops_pipeline.deploy --only-json --out build/definitions

# The landing Lambda's deployment package (Terraform uploads it).
lambda-zip: $(STAMP)
	$(BIN)/python -m mlops_pipeline.lambda_zip build/landing_handler.zip

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) build .pytest_cache
