"""Shared fixtures: the repository layout, the example pipeline, fake AWS credentials."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: The test files that take longest, longest first. `make test` hands whole files to two processes
#: (pytest-xdist, ``--dist loadfile``), which by itself starts with the files that have the most tests and
#: so left the one-test Terraform emulator file, the longest, to run alone at the end; starting with these
#: keeps both processes busy to the end.
LONGEST_FIRST = (
    "test_terraform_emulator.py",
    "test_kill_matrix.py",
    "test_runtime.py",
    "test_sagemaker_endpoint.py",
    "test_real_world_data.py",
    "test_cli_local.py",
)


def pytest_xdist_make_scheduler(config, log):
    """``--dist loadfile`` handing out the files of ``LONGEST_FIRST`` first, then the others in its own order."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    scheduler = LoadFileScheduling(config, log)
    scheduler.workqueue = _LongestFirst()
    return scheduler


class _LongestFirst(OrderedDict):
    """xdist's queue of files to hand out, from which the next is the highest in ``LONGEST_FIRST``."""

    def popitem(self, last: bool = True):
        rank = {name: position for position, name in enumerate(LONGEST_FIRST)}
        scope = min(self, key=lambda path: rank.get(Path(path).name, len(rank)))
        return scope, self.pop(scope)


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


CONTAINER = REPO / "containers" / "byo-xgboost"
AWS_STYLE = Path(__file__).parent / "fixtures" / "aws_style"
PROGRAM = CONTAINER / "program"
GLUE_DIR = REPO / "glue_transforms"


def run_glue_transform(*args: str, cwd=GLUE_DIR):
    """The Glue entry point as a subprocess, the way the local runtime runs it."""
    return subprocess.run(
        [sys.executable, "run_transform.py", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def run_cli(*args: str, cwd, timeout: float = 600) -> subprocess.CompletedProcess:
    """``mlops-pipeline ARGS`` as a user runs it: a new process, without AWS credentials, running the
    package these tests imported (whatever ``cwd`` is)."""
    command = [sys.executable, "-m", "mlops_pipeline.cli", *map(str, args)]
    return subprocess.run(command, cwd=cwd, env=cli_env(), capture_output=True, text=True, timeout=timeout)


def cli_env() -> dict[str, str]:
    """The environment of a ``mlops-pipeline`` process started by a test: no AWS credentials, the package
    these tests imported."""
    import mlops_pipeline

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    source = str(Path(mlops_pipeline.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([source, *filter(None, [env.get("PYTHONPATH")])])
    return env


def glue_args(kind: str, source, dest, **extra) -> list[str]:
    args = [
        "--KIND",
        kind,
        "--S3_SOURCE",
        str(source),
        "--S3_DEST",
        f"{dest}/",
        "--LABEL",
        "attrition",
        "--ID_COLUMN",
        "employee_id",
        "--TRANSFORM_MODULE",
        "attrition_transform",
    ]
    for key, value in extra.items():
        args += [f"--{key}", str(value)]
    return args


IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/byo-xgboost:1.0"


def project_containers(folder=None):
    """The repository's containers, run the way this machine allows (isolated where it can)."""
    from mlops_pipeline.local.containers import Containers

    return Containers(folder or REPO / "containers")


def namespaces_or_skip():
    """Namespaces isolation, or a skip where this machine cannot isolate jobs. CI installs bubblewrap and sets
    MLOPS_REQUIRE_ISOLATION, so there a missing one is a failure, not a skip."""
    import os

    import pytest

    from mlops_pipeline.local.containers.sandbox import Isolation, choose_isolation

    choice = choose_isolation()
    if choice.mode is not Isolation.NAMESPACES:
        if os.environ.get("MLOPS_REQUIRE_ISOLATION"):
            pytest.fail(f"MLOPS_REQUIRE_ISOLATION is set but containers cannot be isolated: {choice.reason}")
        pytest.skip(f"containers cannot be isolated on this machine: {choice.reason}")
    return choice


def run_train(root, hyperparameters: dict, image: str = IMAGE, containers=None, request=None, **channels):
    """The container's ``train`` with ``root`` as its ``/opt/ml`` and channels as ``name=folder`` keywords
    (``request``: more CreateTrainingJob fields); the log as stdout and stderr."""
    import shutil
    import subprocess

    from mlops_pipeline.local.integrations.sagemaker_training import train

    for name, folder in channels.items():
        shutil.copytree(folder, root / "input" / "data" / name, dirs_exist_ok=True)
    request = {
        "TrainingJobName": "test-job",
        "HyperParameters": hyperparameters,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "InputDataConfig": [
            {"ChannelName": name, "DataSource": {"S3DataSource": {"S3Uri": f"s3://extracts/{name}/"}}}
            for name in channels
        ],
        **(request or {}),
    }
    log = root.parent / f"{root.name}-train.log"
    code = train(containers or project_containers(), request, root, "arn:aws:sagemaker:local", log, running_control())
    text = log.read_text()
    return subprocess.CompletedProcess(args=["train"], returncode=code, stdout=text, stderr=text)


class Answer:
    """An HTTP answer from a model server (reached over TCP or its bridge's unix socket)."""

    def __init__(self, status: int, content: bytes):
        self.status_code, self.content, self.text = status, content, content.decode(errors="replace")

    def json(self):
        import json

        return json.loads(self.content)


def call(endpoint, method: str, path: str, body=None, headers=None, timeout: float = 120) -> Answer:
    from mlops_pipeline.local.containers.http import request

    data = body.encode() if isinstance(body, str) else body
    return Answer(*request(endpoint, method, path, data, headers or {}, timeout=timeout))


@pytest.fixture(scope="session")
def demo_extract(tmp_path_factory):
    """Demo data transformed by the real Glue entry point: landed files and extract folder."""
    from mlops_pipeline.demo_data import write_demo_pair

    root = tmp_path_factory.mktemp("extract")
    train, score = write_demo_pair(root / "landed", 4000, 500)
    for kind, source, extra in (
        ("train", train, {}),
        ("score", score, {"SCHEMA_URI": root / "extract/train/schema.json"}),
    ):
        result = run_glue_transform(*glue_args(kind, source, root / "extract", **extra))
        assert result.returncode == 0, result.stderr
    return root


@pytest.fixture(scope="session")
def trained_model(demo_extract, tmp_path_factory):
    """A model directory written by the real ``train`` program."""
    root = tmp_path_factory.mktemp("opt_ml")
    extract = demo_extract / "extract"
    result = run_train(
        root, {"num_round": "30", "max_depth": "4"}, train=extract / "train", validation=extract / "validation"
    )
    assert result.returncode == 0, result.stderr
    return root / "model"


#: Names users' columns and categories give features: a category value with a comma, units in brackets, a
#: comparison, a quote, and a name that is another one's escaped form (the two must stay two features).
AWKWARD_NAMES = ["department=sales, emea", "distance [km]", "x<y", 'say "hi"', "distance %5Bkm]", "age"]


def write_awkward_extract(folder, rows: int = 300, seed: int = 0):
    """A train channel as the Glue transform writes it (label first, no header) with ``AWKWARD_NAMES``."""
    import json

    import numpy as np

    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, len(AWKWARD_NAMES)))
    labels = (features[:, 1] + rng.normal(0, 0.5, rows) > 0).astype(int)
    folder.mkdir(parents=True)
    lines = [",".join([str(label), *map("{:.4f}".format, row)]) for label, row in zip(labels, features, strict=True)]
    (folder / "train.csv").write_text("\n".join(lines) + "\n")
    (folder / "schema.json").write_text(json.dumps({"features": AWKWARD_NAMES}))
    return folder


def configured(config, **sections):
    """The example config with some sections changed: ``tuning={"max_jobs": 2}``, ``name="x"``."""
    updates = {}
    for section, value in sections.items():
        current = getattr(config, section)
        updates[section] = current.model_copy(update=value) if isinstance(value, dict) else value
    return config.model_copy(update=updates)


def local_project(root, train_program: str | None = None, serve_program: str | None = None):
    """A project folder for the local runtime: the real Glue scripts and a copy of the container,
    whose ``train`` or ``serve`` program a test may replace."""
    import shutil

    root.mkdir(parents=True, exist_ok=True)
    (root / "glue_transforms").symlink_to(GLUE_DIR, target_is_directory=True)
    program = root / "containers" / "byo-xgboost" / "program"
    shutil.copytree(PROGRAM, program)
    for name, text in (("train", train_program), ("serve", serve_program)):
        if text is not None:
            (program / name).write_text(text)
            (program / name).chmod(0o755)
    return root


@pytest.fixture
def services(tmp_path):
    """Local services over a fresh workspace, serving the repository's containers."""
    from mlops_pipeline.local.services import LocalServices
    from mlops_pipeline.local.stores import Workspace

    workspace = Workspace.resolve(tmp_path / "ws")
    services = LocalServices(workspace, containers_dir=REPO / "containers", logs_root=tmp_path / "ws" / "logs")
    yield services
    services.close()  # what a session ends with: idle model servers stopped, jobs killed


def running_control(name: str = "exec-1"):
    from mlops_pipeline.local.tasks import TaskControl

    return TaskControl(running=lambda: True, execution_name=name)


def dispatch(services, resource: str, params: dict):
    """One Task call as the engine makes it: errors leave under the names Step Functions reports."""
    from mlops_pipeline.local.integrations import default_table

    return default_table().dispatch(services, resource, params, running_control())


def stage_extract(services, demo_extract, stem: str = "t1") -> str:
    """Copy the demo extract into the extracts store; returns its s3:// prefix."""
    for path in (demo_extract / "extract").rglob("*"):
        if path.is_file():
            key = f"attrition/{stem}/{path.relative_to(demo_extract / 'extract').as_posix()}"
            services.workspace.put_file("attrition-extracts", key, path)
    return f"s3://attrition-extracts/attrition/{stem}/"


def training_request(prefix: str, name: str = "job-1", **hyperparameters) -> dict:
    metric = r"\b{}: ([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
    return {
        "TrainingJobName": name,
        "HyperParameters": {"num_round": "20", **hyperparameters},
        "AlgorithmSpecification": {
            "TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/byo-xgboost:1.0",
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": m, "Regex": metric.format(m)} for m in ("roc_auc", "logloss")],
        },
        "InputDataConfig": [
            {"ChannelName": c, "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"{prefix}{c}/"}}}
            for c in ("train", "validation")
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://attrition-model/attrition/t1/"},
    }


def write_hr_like(
    path,
    rows: int,
    seed: int,
    label: bool = True,
    signal: float = 1.0,
    positive_share: float | None = None,
    start: int = 1,
):
    """A file like the public IBM HR attrition sample: a byte-order mark in the header, the id
    (``EmployeeNumber``) not first, ``Attrition`` as Yes/No, spreadsheet column names. ``signal`` 0 makes
    the label noise; ``positive_share`` fixes the share of Yes."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    overtime = rng.random(rows) < 0.3
    income = rng.integers(1000, 20000, rows)
    age = rng.integers(18, 60, rows)
    score = signal * (1.5 * overtime - income / 10000 - (age - 18) / 40) + rng.normal(0, 0.7, rows)
    cut = np.quantile(score, 1 - positive_share) if positive_share is not None else 0.2
    frame = pd.DataFrame(
        {
            "Age": age,
            "BusinessTravel": rng.choice(["Travel_Rarely", "Travel_Frequently", "Non-Travel"], rows),
            "Department": rng.choice(["Sales", "Research & Development", "Human Resources"], rows),
            "DistanceFromHome": rng.integers(1, 30, rows),
            "EmployeeNumber": np.arange(start, start + rows),
            "JobRole": rng.choice(["Sales Executive", "Research Scientist", "Laboratory Technician", "Manager"], rows),
            "MonthlyIncome": income,
            "OverTime": np.where(overtime, "Yes", "No"),
            "YearsAtCompany": rng.integers(0, 40, rows),
        }
    )
    if label:
        frame.insert(1, "Attrition", np.where(score > cut, "Yes", "No"))
    frame.to_csv(path, index=False, encoding="utf-8-sig")
    return path


HR_WORKFLOW = """\
from mlops_pipeline.config import (
    DataSchema, IntegerRange, ModelSettings, PipelineConfig, QualityGate, RetrySettings, TransformSettings,
    TuningSettings,
)

PIPELINE = PipelineConfig(
    name="hr",
    data=DataSchema(label="Attrition", id_column="EmployeeNumber", positive="Yes"),
    transform=TransformSettings(script="attrition_transform.py"),
    model=ModelSettings(image="byo-xgboost:1.0", hyperparameters={{"num_round": 30}}),
    tuning=TuningSettings(strategy="Random", objective_metric="{metric}", max_jobs=2, max_parallel_jobs=2, seed=7,
                          ranges=(IntegerRange(name="max_depth", min=2, max=5),)),
    quality_gate=QualityGate(metric="{metric}", comparison=">=", threshold=0.5, champion_margin={margin}),
    retry=RetrySettings(interval_seconds=1),
)
"""


def hr_project(root, metric: str = "roc_auc", margin: float = 0.02, edits: dict[str, str] | None = None):
    """A project with the example's Glue scripts and container and an HR-style workflow, each text of ``edits``
    replaced by its value in it (an edit that finds nothing to replace fails the test)."""
    project = local_project(root)
    (project / "workflows").mkdir()
    workflow = HR_WORKFLOW.format(metric=metric, margin=margin)
    for old, new in (edits or {}).items():
        assert old in workflow, f"the HR workflow has no {old!r} to edit"
        workflow = workflow.replace(old, new)
    (project / "workflows" / "hr.py").write_text(workflow)
    return project


#: Set where the machine is meant to have every system tool the tests use (CI): a missing one then fails
#: the tests that need it instead of skipping them.
REQUIRE_TOOLS = ("MLOPS_REQUIRE_ISOLATION", "MLOPS_REQUIRE_BROWSER")


def missing_tool(reason: str, required_by: str) -> None:
    """Skip a test that needs a system tool this machine lacks, or fail it where ``required_by`` is set."""
    assert required_by in REQUIRE_TOOLS
    if os.environ.get(required_by):
        pytest.fail(f"{required_by} is set but {reason}")
    pytest.skip(reason)


def chromium() -> str:
    """A headless-capable Chromium (Debian's ``chromium``), or the test skips (fails under MLOPS_REQUIRE_BROWSER)."""
    import shutil

    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    missing_tool(
        "no chromium on this machine (apt-get install chromium) to open the HTML report", "MLOPS_REQUIRE_BROWSER"
    )
    raise AssertionError("unreachable")


@pytest.fixture
def server_starts(monkeypatch) -> list[float]:
    """When each fork server was started (``ForkServer.start`` calls, in this test)."""
    import time

    from mlops_pipeline.local import fork_servers

    started: list[float] = []
    real = fork_servers.ForkServer.start.__func__

    def counted(cls, *args, **kwargs):
        started.append(time.monotonic())
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(fork_servers.ForkServer, "start", classmethod(counted))
    return started


def training_job_counters(**counts: int) -> dict[str, int]:
    """DescribeHyperParameterTuningJob's ``TrainingJobStatusCounters``: every status SageMaker counts, 0 unless
    given."""
    statuses = ("Completed", "InProgress", "RetryableError", "NonRetryableError", "Stopped")
    return {status: counts.pop(status, 0) for status in statuses} | counts  # an unknown status shows in the diff


def left_running(workspace, target) -> str:
    """The record a session killed with ``kill -9`` leaves: an execution RUNNING under a dead session."""
    from mlops_pipeline.local.executions import ExecutionRecords, executions_root

    records = ExecutionRecords(executions_root(workspace, target))
    machine = target.state_machine_arn("attrition-scoring")
    records.write(
        {
            "name": "score-x-0123456789abcdef",
            "workflow": "scoring",
            "status": "RUNNING",
            "execution_arn": machine.replace(":stateMachine:", ":execution:") + ":score-x-0123456789abcdef",
            "state_machine_arn": machine,
            "start_date": "2024-05-02T10:00:00+00:00",
            "stop_date": None,
            "input": {},
            "output": None,
            "error": None,
            "cause": None,
            "failed_state": None,
            "fail_state": None,
            "failed_state_input": None,
            "redrive_count": 0,
            "definition": json.dumps({"StartAt": "BatchTransform", "States": {"BatchTransform": {"Type": "Task"}}}),
            "history": [
                {"id": 1, "type": "ExecutionStarted", "timestamp": "2024-05-02 10:00:00+00:00"},
                {
                    "id": 2,
                    "type": "TaskStateEntered",
                    "timestamp": "2024-05-02 10:00:01+00:00",
                    "stateEnteredEventDetails": {"name": "BatchTransform"},
                },
            ],
            "session": "a-session-that-died",
        }
    )
    return "score-x-0123456789abcdef"


def read_only_open(real_open):
    """``open`` as a workspace this process may only read answers it: refused for writing."""

    def opening(path, mode="r", *args, **kwargs):
        if any(letter in mode for letter in "aw+x"):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, mode, *args, **kwargs)

    return opening
