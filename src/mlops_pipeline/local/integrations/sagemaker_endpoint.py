"""SageMaker real-time endpoints: ``createEndpointConfig``, ``createEndpoint``, ``updateEndpoint``,
``describeEndpoint`` and ``sagemakerruntime:invokeEndpoint``, served by ``local/endpoints.py``.

As SageMaker answers them (API reference and botocore's ``sagemaker`` model): CreateEndpoint and
UpdateEndpoint answer at once with ``EndpointArn`` and the endpoint is ``Creating``/``Updating`` until its
model server answers ``/ping``; then it is ``InService`` on the new configuration. A model that does not
start makes a new endpoint ``Failed`` and leaves an updated one ``InService`` on its previous configuration,
with a ``FailureReason`` either way. An unknown endpoint is ``ValidationException`` "Could not find endpoint
...", an update of an endpoint that is not InService ``ValidationException`` too (neither is modelled, so
Step Functions reports ``SageMaker.SageMakerException``). InvokeEndpoint answers the model's status-200 body;
other answers are ``ModelError`` (HTTP 424, sagemaker-runtime's model), an unknown endpoint
``ValidationError``. Names are lowercase in ARNs, as SageMaker writes them. The messages are SageMaker's as
users report them: 'Could not find endpoint "arn:aws:sagemaker:...:endpoint/<name>".' (ValidationException,
aws/amazon-sagemaker-examples#2402) and "Endpoint <name> of account <id> not found." (InvokeEndpoint's
ValidationError, aws/amazon-sagemaker-examples#293).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path

from mlops_pipeline.aws_errors import AwsError
from mlops_pipeline.errors import PipelineError
from mlops_pipeline.local.containers import free_port, http
from mlops_pipeline.local.containers.warm import WarmServer
from mlops_pipeline.local.integrations import serves
from mlops_pipeline.local.integrations.sagemaker_model import MODELS
from mlops_pipeline.local.integrations.sagemaker_transform import unpack_model
from mlops_pipeline.local.jobs import RecordKind, aws_shape, now
from mlops_pipeline.local.records import Records
from mlops_pipeline.local.services import LocalServices
from mlops_pipeline.local.sessions import SESSION_ENV, Session, is_alive
from mlops_pipeline.local.stores import JOBS_FOLDER, Workspace
from mlops_pipeline.local.tasks import TaskControl

CLIENT_ERROR = "ValidationException"
ENDPOINT_CONFIGS = RecordKind(
    folder="endpoint-configs",
    name_field="EndpointConfigName",
    not_found_code="ValidationException",
    not_found_message='Could not find endpoint configuration "{name}".',
    in_use_code="ValidationException",
)
ENDPOINTS = RecordKind(
    folder="endpoints",
    name_field="EndpointName",
    not_found_code="ValidationException",
    not_found_message='Could not find endpoint "{name}".',
    in_use_code="ValidationException",
)
IN_PROGRESS = ("Creating", "Updating", "SystemUpdating", "RollingBack")
ORPHANED_REASON = "the local runtime session that deployed it ended before the model server answered"


@serves("sagemaker:createEndpointConfig", client_error=CLIENT_ERROR)
def create_endpoint_config(services: LocalServices, params: dict, control: TaskControl) -> dict:
    name = params["EndpointConfigName"]
    variants = params["ProductionVariants"]
    if len(variants) != 1:
        raise AwsError(
            "ValidationException", f"endpoint config {name}: the local runtime serves one production variant"
        )
    MODELS.describe(services, variants[0]["ModelName"])  # SageMaker: 'Could not find model "..."'
    arn = services.arn("sagemaker", f"endpoint-config/{name.lower()}")
    record = {**params, "EndpointConfigArn": arn, "CreationTime": now().isoformat()}
    ENDPOINT_CONFIGS.claim(services, record)
    return {"EndpointConfigArn": arn}


@serves("sagemaker:createEndpoint", client_error=CLIENT_ERROR)
def create_endpoint(services: LocalServices, params: dict, control: TaskControl) -> dict:
    name, config = params["EndpointName"], ENDPOINT_CONFIGS.describe(services, params["EndpointConfigName"])
    arn = services.arn("sagemaker", f"endpoint/{name.lower()}")
    time = now().isoformat()
    record = {
        "EndpointName": name,
        "EndpointArn": arn,
        "EndpointConfigName": config["EndpointConfigName"],
        "EndpointStatus": "Creating",
        "CreationTime": time,
        "LastModifiedTime": time,
        "Local": {"Port": free_port(), "Containers": str(services.containers_dir)},
    }
    ENDPOINTS.claim(services, record)
    _deploy_later(services, record, config, services.log_path(control, "endpoints", name))
    return {"EndpointArn": arn}


@serves("sagemaker:updateEndpoint", client_error=CLIENT_ERROR)
def update_endpoint(services: LocalServices, params: dict, control: TaskControl) -> dict:
    name = params["EndpointName"]
    record = _record(services, name)
    if record["EndpointStatus"] != "InService":
        raise AwsError("ValidationException", _not_updatable(record))
    config = ENDPOINT_CONFIGS.describe(services, params["EndpointConfigName"])
    record.update(EndpointStatus="Updating", LastModifiedTime=now().isoformat())
    record.pop("FailureReason", None)
    record.setdefault("Local", {}).update(
        Containers=str(services.containers_dir), Session=os.environ.get(SESSION_ENV, "")
    )
    ENDPOINTS.save(services, record)
    _deploy_later(services, record, config, services.log_path(control, "endpoints", name))
    return {"EndpointArn": record["EndpointArn"]}


def _not_updatable(record: dict) -> str:
    """SageMaker's refusal of an update while the endpoint is not InService."""
    arn, status = record["EndpointArn"], record["EndpointStatus"]
    if status in IN_PROGRESS:
        return f'Cannot update in-progress endpoint "{arn}".'
    return f'Cannot update endpoint "{arn}" in status {status}.'


@serves("aws-sdk:sagemaker:describeEndpoint", client_error=CLIENT_ERROR)
def describe_endpoint(services: LocalServices, params: dict, control: TaskControl) -> dict:
    return aws_shape(_record(services, params["EndpointName"]))


@serves("aws-sdk:sagemakerruntime:invokeEndpoint", client_error="ValidationError")
def invoke_endpoint(services: LocalServices, params: dict, control: TaskControl) -> dict:
    """The model's answer to ``Body``; the endpoint is served by this session (started from its record when
    another session deployed it)."""
    name = params["EndpointName"]
    record = services.records.get(ENDPOINTS.folder, name)
    if record is None or record["EndpointStatus"] not in ("InService", "Updating"):
        raise AwsError("ValidationError", f"Endpoint {name} of account {services.account_id} not found.")
    port = serve(services, record)
    body = params["Body"]
    headers = {"Content-Type": params.get("ContentType", "application/octet-stream")}
    if params.get("Accept"):
        headers["Accept"] = params["Accept"]
    try:
        status, answer = http.request(
            http.Endpoint(port=port), "POST", "/invocations", body.encode() if isinstance(body, str) else body, headers
        )
    except OSError as error:  # the endpoint's own listener did not answer: the service's failure, not the model's
        raise AwsError("InternalFailure", f"endpoint {name} on 127.0.0.1:{port} did not answer: {error}") from None
    if status != 200:
        raise AwsError(
            "ModelError",
            f'Received client error ({status}) from primary with message "{answer.decode(errors="replace").strip()}".',
        )
    return {
        "Body": answer.decode(errors="replace"),
        "ContentType": headers.get("Accept", headers["Content-Type"]),
        "InvokedProductionVariant": _variant(record)["VariantName"],
    }


def serve(services: LocalServices, record: dict) -> int:
    """The port this session serves ``record``'s endpoint on, started from its configuration if it does not yet."""
    front = services.endpoints.serving(record["EndpointName"])
    if front is not None and front.backend is not None:
        return front.port
    config = ENDPOINT_CONFIGS.describe(services, record["EndpointConfigName"])
    log_path = Path(
        record.get("Local", {}).get("Log") or services.logs_root / "endpoints" / f"{record['EndpointName']}.log"
    )
    port = services.endpoints.deploy(
        record["EndpointName"], _port(record), config["EndpointConfigName"], _starter(services, config, log_path)
    )
    _note_serving(services, record["EndpointName"], port, log_path)
    return port


def served_elsewhere(workspace_root: Path, record: dict) -> int | None:
    """The port a live session serves the endpoint on, if one does."""
    local = record.get("Local", {})
    session = local.get("ServedBy", "")
    return local.get("Port") if session and is_alive(workspace_root, session) else None


def _deploy_later(services: LocalServices, record: dict, config: dict, log_path: Path) -> None:
    """Start the configuration's model server in the background, as SageMaker does after answering."""
    name = record["EndpointName"]
    threading.Thread(
        target=_deploy, args=(services, name, _port(record), config, log_path), name=f"deploy-{name}", daemon=True
    ).start()


def _deploy(services: LocalServices, name: str, port: int, config: dict, log_path: Path) -> None:
    try:
        port = services.endpoints.deploy(name, port, config["EndpointConfigName"], _starter(services, config, log_path))
    except Exception as error:  # noqa: BLE001 - any reason the model did not start is the endpoint's FailureReason
        _failed(services, name, _reason(_variant(config)["VariantName"], error, log_path))
        return
    record = _record(services, name)
    record.update(
        EndpointStatus="InService",
        EndpointConfigName=config["EndpointConfigName"],
        ProductionVariants=[_production_variant(services, config)],
        LastModifiedTime=now().isoformat(),
    )
    record.pop("FailureReason", None)
    ENDPOINTS.save(services, record)
    _note_serving(services, name, port, log_path)


def _failed(services: LocalServices, name: str, reason: str) -> None:
    """A new endpoint is Failed; an updated one keeps serving its previous configuration (SageMaker's rollback)."""
    record = _record(services, name)
    status = "Failed" if record["EndpointStatus"] == "Creating" else "InService"
    record.update(EndpointStatus=status, FailureReason=reason, LastModifiedTime=now().isoformat())
    ENDPOINTS.save(services, record)


def _reason(variant: str, error: Exception, log_path: Path) -> str:
    """SageMaker's FailureReason for a container that does not answer ``/ping``, with what happened locally."""
    text = getattr(error, "headline", None) or str(error) or type(error).__name__
    return (
        f"The primary container for production variant {variant} did not pass the ping health check: {text} "
        f"(log: {log_path})"
    )


def _starter(services: LocalServices, config: dict, log_path: Path):
    """How to start the configuration's model server: its model unpacked in a job folder, ``serve`` started."""
    model = MODELS.describe(services, _variant(config)["ModelName"])
    container = model["PrimaryContainer"]

    def start() -> WarmServer:
        jobs = services.workspace.root / JOBS_FOLDER
        jobs.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=f"{config['EndpointConfigName']}-", dir=jobs))
        try:
            unpack_model(services.workspace.path_of(container["ModelDataUrl"]), folder / "opt_ml" / "model")
            server = services.containers.start_server(
                container["Image"],
                folder / "opt_ml",
                log_path,
                container.get("Environment", {}),
                running=lambda: not services.endpoints.closed.is_set(),
            )
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return WarmServer(server, folder)

    return start


def _production_variant(services: LocalServices, config: dict) -> dict:
    """DescribeEndpoint's ``ProductionVariants`` entry for a configuration that serves."""
    variant = _variant(config)
    image = MODELS.describe(services, variant["ModelName"])["PrimaryContainer"]["Image"]
    count = variant.get("InitialInstanceCount", 1)
    return {
        "VariantName": variant["VariantName"],
        "DeployedImages": [{"SpecifiedImage": image, "ResolvedImage": image, "ResolutionTime": now().isoformat()}],
        "CurrentWeight": float(variant.get("InitialVariantWeight", 1.0)),
        "DesiredWeight": float(variant.get("InitialVariantWeight", 1.0)),
        "CurrentInstanceCount": count,
        "DesiredInstanceCount": count,
    }


def _note_serving(services: LocalServices, name: str, port: int, log_path: Path) -> None:
    """Record where and by which session the endpoint is served (``local invoke`` reads it)."""
    record = _record(services, name)
    record.setdefault("Local", {}).update(Port=port, ServedBy=os.environ.get(SESSION_ENV, ""), Log=str(log_path))
    ENDPOINTS.save(services, record)


def _record(services: LocalServices, name: str) -> dict:
    record = services.records.get(ENDPOINTS.folder, name)
    if record is None:
        raise AwsError(
            "ValidationException", f'Could not find endpoint "{services.arn("sagemaker", f"endpoint/{name.lower()}")}".'
        )
    return record


def _variant(config: dict) -> dict:
    return config["ProductionVariants"][0]


def _port(record: dict) -> int:
    return int(record.get("Local", {}).get("Port") or 0)


def stop_orphans(records, alive) -> list[str]:
    """Endpoints a dead session left Creating or Updating: a new one Failed, an updated one back InService on
    its previous configuration, as SageMaker ends a deployment that did not finish."""
    stopped = []
    for name in records.names(ENDPOINTS.folder):
        record = records.get(ENDPOINTS.folder, name) or {}
        if record.get("EndpointStatus") in ("Creating", "Updating") and not alive(
            record.get("Local", {}).get("Session", "")
        ):
            status = "Failed" if record["EndpointStatus"] == "Creating" else "InService"
            record.update(EndpointStatus=status, FailureReason=ORPHANED_REASON, LastModifiedTime=now().isoformat())
            records.put(ENDPOINTS.folder, name, record)
            stopped.append(name)
    return stopped


def invoke_in_workspace(workspace: Workspace, name: str, body: bytes, content_type: str) -> bytes:
    """``local invoke``: the endpoint's answer to ``body``. A live session that serves the endpoint answers on
    its port; otherwise the endpoint is served from its record for this call only (started, asked, stopped)."""
    record = Records.of_workspace(workspace.root).get(ENDPOINTS.folder, name)
    if record is None:
        known = ", ".join(Records.of_workspace(workspace.root).names(ENDPOINTS.folder)) or "none"
        raise PipelineError(
            f"no endpoint {name} in {workspace.root} (endpoints: {known}); a workflow with endpoint=EndpointSettings() "
            "creates it when a model is approved"
        )
    if record["EndpointStatus"] not in ("InService", "Updating"):
        reason = f": {record['FailureReason']}" if record.get("FailureReason") else ""
        raise PipelineError(f"endpoint {name} is {record['EndpointStatus']}{reason}")
    port = served_elsewhere(workspace.root, record)
    if port is not None:
        return _ask(name, port, body, content_type)
    session = Session(workspace.root).open()
    log = Path(record.get("Local", {}).get("Log") or workspace.root / JOBS_FOLDER / f"{name}.log")
    services = LocalServices(workspace, containers_dir=Path(record["Local"]["Containers"]), logs_root=log.parent)
    try:
        return _ask(name, serve(services, record), body, content_type)
    finally:
        services.close()
        session.close()


def _ask(name: str, port: int, body: bytes, content_type: str) -> bytes:
    try:
        status, answer = http.request(
            http.Endpoint(port=port), "POST", "/invocations", body, {"Content-Type": content_type}
        )
    except OSError as error:
        raise PipelineError(f"endpoint {name} on 127.0.0.1:{port} did not answer: {error}") from None
    if status != 200:
        text = " ".join(answer.decode(errors="replace").split())[:300]
        raise PipelineError(f"endpoint {name} answered {status}: {text}")
    return answer
