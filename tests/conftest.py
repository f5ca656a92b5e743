"""Shared fixtures: the repository layout, the example pipeline, fake AWS credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_WORKFLOW = REPO / "workflows" / "attrition.py"


@pytest.fixture(scope="session")
def example_config():
    from mlops_pipeline.config import load_workflow

    return load_workflow(EXAMPLE_WORKFLOW)


@pytest.fixture
def aws_credentials(monkeypatch):
    """Fake credentials and a region so boto3 inside moto never looks further."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
