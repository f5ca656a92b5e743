# The two commands a new user runs: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv test test-fast demo render lambda-zip clean

# Create or refresh the virtual environment whenever the declared dependencies change.
$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23.2"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

# Everything except the slow end-to-end pipeline runs.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

demo: $(STAMP)
	$(BIN)/mlops-pipeline demo

render: $(STAMP)
	$(BIN)/python -m mlops_pipeline.deploy --only-json --out build/definitions

# The landing Lambda's deployment package (Terraform uploads it).
lambda-zip: $(STAMP)
	$(BIN)/python -m mlops_pipeline.lambda_zip build/landing_handler.zip

clean:
	rm -rf $(VENV) build .pytest_cache
