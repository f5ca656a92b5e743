"""Every public module imports in a fresh interpreter, and importing leaves logging alone."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import mlops_pipeline


def public_modules() -> list[str]:
    names = ["mlops_pipeline"]
    for info in pkgutil.walk_packages(mlops_pipeline.__path__, "mlops_pipeline."):
        if not any(part.startswith("_") for part in info.name.split(".")[1:]):
            names.append(info.name)
    return names


def test_every_public_module_imports_in_a_fresh_interpreter():
    modules = public_modules()
    assert "mlops_pipeline.builders.sdk" in modules and "mlops_pipeline.deploy" in modules
    code = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\nprint('ok')"
    result = subprocess.run([sys.executable, "-c", code, *modules], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_importing_the_sdk_keeps_the_root_logger_level_and_is_quiet():
    code = (
        "import logging\n"
        "logging.getLogger().setLevel(logging.INFO)\n"
        "import mlops_pipeline.builders.training\n"
        "print(logging.getLevelName(logging.getLogger().level))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "INFO"
    assert "sagemaker.config" not in result.stderr
    assert "Deprecation" not in result.stderr
