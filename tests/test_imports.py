"""Every public module imports in a fresh interpreter, importing leaves logging alone, and building and running
a pipeline never imports the SageMaker SDK or the moto services no workflow uses."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import mlops_pipeline
from conftest import EXAMPLE_WORKFLOW


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


def last_line(code: str) -> str:
    """The last line ``code`` prints in a new interpreter, after it ran without error."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


UNNEEDED = ("sagemaker", "moto.ec2", "moto.batch")


def test_building_and_running_imports_neither_sagemaker_nor_moto_batch_or_ec2():
    code = (
        "import sys\n"
        "import mlops_pipeline.cli\n"
        "from mlops_pipeline.builders import build_definitions, definition_json\n"
        "from mlops_pipeline.config import load_workflow\n"
        "from mlops_pipeline.local.engine import Engine\n"
        "from mlops_pipeline.local.integrations import default_table\n"
        "from mlops_pipeline.target import local_target\n"
        f"config = load_workflow({str(EXAMPLE_WORKFLOW)!r})\n"
        "target = local_target(config.name)\n"
        "table = default_table()\n"
        "with Engine(lambda *a: None, table.resources) as engine:\n"
        "    for workflow, definition in build_definitions(config, target).items():\n"
        "        name = workflow.state_machine_name(config.name)\n"
        "        engine.create_state_machine(name, definition_json(definition), target.step_functions_role_arn)\n"
        f"print(sorted(name for name in {UNNEEDED!r} if name in sys.modules))\n"
    )
    assert last_line(code) == "[]"


def test_a_batch_task_still_gets_moto_batch_service():
    code = (
        "import sys\n"
        "import mlops_pipeline.local.engine\n"
        "from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_factory\n"
        "assert 'moto.batch' not in sys.modules\n"
        "service = state_task_service_factory.state_task_service_for('batch')\n"
        "print([type(service).__name__, 'moto.batch' in sys.modules])\n"
    )
    assert last_line(code) == "['StateTaskServiceBatch', True]"


def test_the_full_sdk_still_imports_after_the_builders_loaded_its_state_classes():
    code = (
        "import sys\n"
        "import mlops_pipeline.builders.sdk\n"
        "assert not [name for name in sys.modules if name.startswith('stepfunctions')]\n"
        "from stepfunctions.steps import TrainingStep\n"
        "print(TrainingStep.__name__)\n"
    )
    assert last_line(code) == "TrainingStep"
