"""Real-time endpoints: approved models deployed by the training workflow, a second approval swapped in while
a client keeps sending requests, a failed update rolled back, InvokeEndpoint through a definition and
``local invoke`` (real trainings, real model servers, real HTTP). One pipeline session serves the module."""

from __future__ import annotations

import contextlib
import json
import tarfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import HR_WORKFLOW, call, dispatch, local_project, run_cli, running_control, write_hr_like
from mlops_pipeline.config import load_workflow
from mlops_pipeline.local.containers.http import Endpoint
from mlops_pipeline.local.integrations.sagemaker_model import create_model
from mlops_pipeline.local.runtime import LocalRuntime
from mlops_pipeline.local.services import LocalServices
from mlops_pipeline.local.sessions import Session
from mlops_pipeline.local.stores import Workspace
from mlops_pipeline.local.tasks import TaskFailure
from mlops_pipeline.naming import Workflow

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/byo-xgboost:1.0"

WORKFLOW = (
    HR_WORKFLOW.replace("TuningSettings,\n)", "TuningSettings, EndpointSettings,\n)")
    .replace("max_jobs=2, max_parallel_jobs=2", "max_jobs=1, max_parallel_jobs=1")
    .replace("    retry=", "    endpoint=EndpointSettings(poll_seconds=1, wait_seconds=120),\n    retry=")
    .format(metric="roc_auc", margin=1.0)
)


@dataclass
class Client:
    """Sends the same rows to a port again and again until stopped, counting answers and failures."""

    port: int
    body: bytes
    answered: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                reply = call(Endpoint(port=self.port), "POST", "/invocations", self.body, {"Content-Type": "text/csv"})
                (self.answered if reply.status_code == 200 else self.failures).append(reply.status_code)
            except OSError as error:
                self.failures.append(repr(error))


@dataclass
class Deployed:
    runtime: LocalRuntime
    workspace: Path
    features: Path
    first: object
    second: object
    client: Client
    answered_before_second: int
    closed: bool = False

    def close(self) -> None:
        """End the session (once): its endpoints stop serving."""
        if not self.closed:
            self.closed = True
            self.runtime.__exit__(None, None, None)


def _features(workspace: Path, into: Path) -> Path:
    """Ten rows of a training extract without the label: the model's features, as a client sends them."""
    (extract,) = list((workspace / "s3" / "hr-extracts").rglob("train/train.csv"))[:1]
    rows = extract.read_text().splitlines()[:10]
    into.write_text("".join(",".join(row.split(",")[1:]) + "\n" for row in rows))
    return into


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """A session that approved a model (deployed to the endpoint ``hr``), then a second one while a client
    kept sending requests to the endpoint's port."""
    root = tmp_path_factory.mktemp("endpoint")
    project = local_project(root / "project")
    (project / "workflows").mkdir()
    (project / "workflows" / "hr.py").write_text(WORKFLOW)
    config = load_workflow(project / "workflows" / "hr.py", containers=project / "containers")
    train = write_hr_like(root / "employees.csv", 400, seed=1)
    retrain = write_hr_like(root / "employees later.csv", 400, seed=3)
    runtime = LocalRuntime(config, Workspace.resolve(root / "ws"), project)
    runtime.__enter__()
    result = None
    try:
        first = runtime.run_file("train", train)
        assert first.succeeded, (first.error, first.cause)
        features = _features(root / "ws", root / "features.csv")
        port = runtime.services.records.get("endpoints", "hr")["Local"]["Port"]
        client = Client(port, features.read_bytes())
        thread = threading.Thread(target=client.run)
        thread.start()
        try:
            while len(client.answered) < 5 and not client.failures:
                time.sleep(0.01)
            before = len(client.answered)
            second = runtime.run_file("train", retrain)
            after = len(client.answered)
            while len(client.answered) < after + 5 and not client.failures:
                time.sleep(0.01)
        finally:
            client.stop.set()
            thread.join()
        assert second.succeeded, (second.error, second.cause)
        result = Deployed(runtime, root / "ws", features, first, second, client, before)
        yield result
    finally:
        if result is None:
            runtime.__exit__(None, None, None)
        else:
            result.close()


@pytest.mark.slow
def test_an_approved_model_is_deployed_and_a_second_approval_swaps_it_without_a_failed_request(deployed):
    first, second = deployed.first.output["endpoint"], deployed.second.output["endpoint"]
    assert first["name"] == second["name"] == "hr"
    assert first["config_name"] != second["config_name"]
    assert first["config_name"] == deployed.first.output["model_name"]  # named like every job of the execution
    described = dispatch(deployed.runtime.services, "aws-sdk:sagemaker:describeEndpoint", {"EndpointName": "hr"})
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == second["config_name"]
    assert deployed.client.failures == []
    assert len(deployed.client.answered) > deployed.answered_before_second  # it kept answering through the swap


@pytest.mark.slow
def test_an_unknown_endpoint_is_the_error_the_workflow_catches(deployed):
    """DescribeEndpoint of a missing endpoint: not modelled, so the base class; its cause is what
    ``IsEndpointMissing`` matches."""
    with pytest.raises(TaskFailure) as unknown:
        dispatch(deployed.runtime.services, "aws-sdk:sagemaker:describeEndpoint", {"EndpointName": "nope"})
    assert unknown.value.error == "SageMaker.SageMakerException"
    assert 'Could not find endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/nope"' in unknown.value.cause
    with pytest.raises(TaskFailure) as again:
        dispatch(
            deployed.runtime.services,
            "sagemaker:createEndpoint",
            {"EndpointName": "hr", "EndpointConfigName": deployed.second.output["endpoint"]["config_name"]},
        )
    assert again.value.error == "SageMaker.AmazonSageMakerException"


def test_a_deployment_its_session_left_unfinished_is_closed_as_sagemaker_ends_one(tmp_path):
    """Recovery: a session that died while an endpoint was Creating or Updating leaves a Failed endpoint, or
    one back InService on its previous configuration; one that finished is left as it is."""
    from mlops_pipeline.local.integrations.sagemaker_endpoint import ENDPOINTS, ORPHANED_REASON, stop_orphans
    from mlops_pipeline.local.records import Records

    records = Records.of_workspace(tmp_path)
    for name, status, session in (
        ("new", "Creating", "gone"),
        ("old", "Updating", "gone"),
        ("live", "Updating", "alive"),
        ("done", "InService", "gone"),
    ):
        record = {"EndpointName": name, "EndpointStatus": status, "EndpointConfigName": "c-1"}
        records.put(ENDPOINTS.folder, name, {**record, "Local": {"Session": session}})
    assert stop_orphans(records, lambda session: session == "alive") == ["new", "old"]
    new, old = records.get(ENDPOINTS.folder, "new"), records.get(ENDPOINTS.folder, "old")
    assert new["EndpointStatus"] == "Failed" and new["FailureReason"] == ORPHANED_REASON
    assert old["EndpointStatus"] == "InService" and old["EndpointConfigName"] == "c-1" and old["FailureReason"]
    assert records.get(ENDPOINTS.folder, "live")["EndpointStatus"] == "Updating"
    assert "FailureReason" not in records.get(ENDPOINTS.folder, "done")


def _broken_model(services, folder: Path, name: str) -> str:
    """A model whose artifact holds no model: its server cannot start."""
    archive = services.workspace.path("hr-model", f"broken/{name}.tar.gz")
    archive.parent.mkdir(parents=True, exist_ok=True)
    (folder / "README").write_text("no model here\n")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder / "README", arcname="README")
    container = {"Image": IMAGE, "ModelDataUrl": f"s3://hr-model/broken/{name}.tar.gz"}
    create_model(services, {"ModelName": name, "PrimaryContainer": container}, running_control())
    return name


def _endpoint_states(training: str) -> dict:
    """The rendered training definition from ``StartEndpointDeployment`` on: the endpoint's states and their ends."""
    states = json.loads(training)["States"]
    reachable, todo = {}, ["StartEndpointDeployment"]
    while todo:
        name = todo.pop()
        if name in reachable:
            continue
        state = reachable[name] = states[name]
        todo += [state[key] for key in ("Next", "Default") if key in state]
        todo += [rule["Next"] for rule in state.get("Choices", [])] + [c["Next"] for c in state.get("Catch", [])]
    return {"StartAt": "StartEndpointDeployment", "States": reachable}


def _settled(services, name: str, timeout: float = 120) -> dict:
    """DescribeEndpoint once the endpoint is no longer Creating or Updating."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = dispatch(services, "aws-sdk:sagemaker:describeEndpoint", {"EndpointName": name})
        if answer["EndpointStatus"] not in ("Creating", "Updating"):
            return answer
        time.sleep(0.05)
    raise AssertionError(f"endpoint {name} still {answer['EndpointStatus']} after {timeout} s")


@pytest.mark.slow
def test_after_the_session_the_endpoint_is_served_from_its_record_and_a_failed_update_is_rolled_back(
    deployed, tmp_path
):
    """The session that deployed the endpoint ends. A new one answers InvokeEndpoint through a definition's
    aws-sdk Task (serving the endpoint from its record) and ``local invoke`` asks that session; the workflow's
    endpoint states deploying a model that cannot start fail with the rollback's cause while the previous
    model keeps answering; once no session runs, ``local invoke`` serves the endpoint itself."""
    deployed.close()
    serving = deployed.second.output["endpoint"]["config_name"]
    rows = deployed.features.read_text()
    invoke = {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:sagemakerruntime:invokeEndpoint",
        "Parameters": {"EndpointName.$": "$.endpoint", "ContentType": "text/csv", "Body.$": "$.rows"},
        "End": True,
    }
    args = ("local", "invoke", "--endpoint", "hr", str(deployed.features), "--workspace", str(deployed.workspace))
    session = Session(deployed.workspace).open()
    workspace = Workspace.resolve(deployed.workspace)
    services = LocalServices(workspace, deployed.workspace.parent / "project" / "containers", deployed.workspace)
    try:
        with _engine(services) as run:
            answered = run({"StartAt": "Invoke", "States": {"Invoke": invoke}}, {"endpoint": "hr", "rows": rows})
            missing = run({"StartAt": "Invoke", "States": {"Invoke": invoke}}, {"endpoint": "nope", "rows": rows})
            refused = run({"StartAt": "Invoke", "States": {"Invoke": invoke}}, {"endpoint": "hr", "rows": "a,b\n"})
            during = run_cli(*args, cwd=deployed.workspace.parent)
            broken = _broken_model(services, tmp_path, "hr-broken")
            variant = {"VariantName": "AllTraffic", "ModelName": broken, "InitialInstanceCount": 1}
            config = {"EndpointConfigName": broken, "ProductionVariants": [{**variant, "InstanceType": "ml.m5.large"}]}
            dispatch(services, "sagemaker:createEndpointConfig", config)
            dispatch(services, "sagemaker:createEndpoint", {"EndpointName": "hr-new", "EndpointConfigName": broken})
            update = {"job_stem": "tbroken", "model": {"ModelName": broken}, "record": {"model_name": broken}}
            rolled_back = run(_endpoint_states(deployed.runtime.definitions[Workflow.TRAINING]), update)
            still = run({"StartAt": "Invoke", "States": {"Invoke": invoke}}, {"endpoint": "hr", "rows": rows})
            created = _settled(services, "hr-new")
    finally:
        services.close()
        session.close()
    assert answered["status"] == "SUCCEEDED", (answered.get("error"), answered.get("cause"))
    output = json.loads(answered["output"])
    assert output["InvokedProductionVariant"] == "AllTraffic"
    predictions = output["Body"].splitlines()
    assert len(predictions) == 10 and all(0 <= float(value) <= 1 for value in predictions)
    assert missing["status"] == "FAILED" and missing["error"] == "SageMakerRuntime.ValidationErrorException"
    assert refused["status"] == "FAILED" and refused["error"] == "SageMakerRuntime.ModelErrorException"
    assert refused["cause"].startswith("Received client error (400) from primary with message")
    assert during.returncode == 0, during.stderr
    assert during.stdout.splitlines() == predictions

    assert rolled_back["status"] == "FAILED" and rolled_back["error"] == "EndpointUpdateFailed"
    assert rolled_back["cause"].startswith(
        "The update of the endpoint hr to hr-tbroken-0-0 failed and SageMaker rolled it back: "
        f"it still serves {serving}. FailureReason: "
    )
    assert "did not pass the ping health check" in rolled_back["cause"]
    assert still["status"] == "SUCCEEDED" and json.loads(still["output"])["Body"].splitlines() == predictions
    assert created["EndpointStatus"] == "Failed" and "ping health check" in created["FailureReason"]

    after = run_cli(*args, cwd=deployed.workspace.parent)
    assert after.returncode == 0, after.stderr
    assert after.stdout == during.stdout
    unknown = run_cli(*args[:3], "nope", *args[4:], cwd=deployed.workspace.parent)
    assert unknown.returncode == 1 and unknown.stderr.startswith("Error: no endpoint nope in ")


@contextlib.contextmanager
def _engine(services):
    """``run(definition, input)``: one execution by an engine of its own over ``services``, once it ended."""
    from mlops_pipeline.local.engine import Engine
    from mlops_pipeline.local.integrations import default_table

    table = default_table()
    with Engine(table.dispatcher(services), table.resources) as engine:
        services.sfn = engine.client
        names = iter(range(1, 100))

        def run(definition: dict, payload: dict) -> dict:
            number = next(names)
            role = "arn:aws:iam::123456789012:role/x"
            arn = engine.create_state_machine(f"sm-{number}", json.dumps(definition), role)
            execution = engine.start_execution(arn, f"run-{number}", payload)
            deadline = time.monotonic() + 120
            while engine.describe(execution)["status"] == "RUNNING" and time.monotonic() < deadline:
                time.sleep(0.05)
            return engine.describe(execution)

        yield run
