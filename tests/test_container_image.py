"""The image's build files: pins match the project, non-root, the SageMaker program layout."""

from __future__ import annotations

import configparser
import os
import subprocess

from packaging.requirements import Requirement

from conftest import CONTAINER, PROGRAM, REPO


def project_requirements() -> dict[str, Requirement]:
    parser = configparser.ConfigParser()
    parser.read(REPO / "setup.cfg")
    lines = [line.strip() for line in parser["options"]["install_requires"].splitlines()]
    requirements = [Requirement(line) for line in lines if line and not line.startswith("#")]
    return {r.name.lower(): r for r in requirements}


def test_image_pins_satisfy_the_project_ranges():
    project = project_requirements()
    pins = [
        Requirement(line)
        for line in (CONTAINER / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert {p.name for p in pins} >= {"xgboost", "pandas", "numpy", "scikit-learn", "flask", "gunicorn"}
    for pin in pins:
        (version,) = [s.version for s in pin.specifier]
        assert str(next(iter(pin.specifier)).operator) == "=="
        assert project[pin.name.lower()].specifier.contains(version), (
            f"{pin} is outside setup.cfg's {project[pin.name.lower()]}"
        )


def test_dockerfile_runs_as_non_root_with_the_program_on_path():
    dockerfile = (CONTAINER / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert "USER model" in dockerfile and "PYTHONUNBUFFERED=1" in dockerfile
    assert 'PATH="/opt/program:${PATH}"' in dockerfile
    assert "pip install --no-cache-dir -r /tmp/requirements.txt" in dockerfile


def test_program_layout_and_executables():
    for name in ("train", "serve", "predictor.py", "wsgi.py", "nginx.conf"):
        assert (PROGRAM / name).is_file(), name
    for name in ("train", "serve"):
        assert os.access(PROGRAM / name, os.X_OK)
    for name in ("Dockerfile", ".dockerignore", "build_and_push.sh"):
        assert (CONTAINER / name).is_file(), name


def test_build_and_push_prints_usage_on_wrong_arguments():
    for args in ([], ["a", "b", "c"], ["--help"]):
        result = subprocess.run(
            ["bash", str(CONTAINER / "build_and_push.sh"), *args], capture_output=True, text=True, timeout=30
        )
        assert result.returncode == 2
        assert "usage:" in result.stderr and "IMAGE_NAME [TAG]" in result.stderr


def test_build_and_push_is_strict_bash():
    assert "set -euo pipefail" in (CONTAINER / "build_and_push.sh").read_text()
