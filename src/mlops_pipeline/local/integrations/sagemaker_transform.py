"""``sagemaker:createTransformJob(.sync)``: the container's ``serve`` program scores each input file.

As SageMaker batch transform documents it: the model is unpacked into ``/opt/ml/model``, ``serve`` starts with
the batch variables (``SAGEMAKER_BATCH``, ``SAGEMAKER_MAX_PAYLOAD_IN_MB``, ``SAGEMAKER_BATCH_STRATEGY``,
``SAGEMAKER_MAX_CONCURRENT_TRANSFORMS``) and must answer ``/ping``; each input object is sent whole
(``SplitType=None``) or split by line into MultiRecord (or SingleRecord) mini-batches under ``MaxPayloadInMB``,
``MaxConcurrentTransforms`` requests in flight; ``DataProcessing`` filters and joins CSV records (slices
include their end, ``$[1:4]`` is the second through fifth column; quoted CSV fields, such as ids with commas
or quotes, keep their quoting); ``<input>.out`` is written in input order, with a newline after each record
(``AssembleWith=Line``) or the answers as they are (``None``), and only if the whole file succeeded. A CSV
line that ends inside a quoted field fails the job naming the line when DataProcessing has to read it:
SageMaker splits at line breaks and does not support CSV records with line breaks inside. Each request waits
up to ``ModelClientConfig.InvocationsTimeoutInSeconds`` (default 600 s). No input file is ever held in memory
whole when it is split. CreateTransformJob has no MaxRuntimeInSeconds: a job runs until its input is done or
its state ends.
"""

from __future__ import annotations

import csv
import io
import shutil
import tarfile
import tempfile
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterator

from mlops_pipeline.errors import PipelineError
from mlops_pipeline.local.ahead import part_of, written_out
from mlops_pipeline.local.containers import http
from mlops_pipeline.local.containers.warm import WarmServer
from mlops_pipeline.local.integrations import serves
from mlops_pipeline.local.integrations.sagemaker_model import MODELS
from mlops_pipeline.local.jobs import JobKind, now
from mlops_pipeline.local.services import LocalServices
from mlops_pipeline.local.stores import JOBS_FOLDER, disk_full, parse_s3_uri, temp_file_beside
from mlops_pipeline.local.tasks import TaskControl

TRANSFORM_JOBS = JobKind(
    folder="transform-jobs",
    name_field="TransformJobName",
    status_field="TransformJobStatus",
    end_field="TransformEndTime",
    not_found_code="ValidationException",
    not_found_message='Could not find job "{name}".',
)
CLIENT_ERROR = "ValidationException"
MB = 1024 * 1024
DEFAULT_PAYLOAD_MB = 6
INVOCATION_TIMEOUT_SECONDS = 600  # ModelClientConfig.InvocationsTimeoutInSeconds' default
STRATEGY_VARIABLE = {"MultiRecord": "MULTI_RECORD", "SingleRecord": "SINGLE_RECORD"}


class TransformFailed(Exception):
    """The job fails with this reason (a bad record, an error answer from the model server)."""


def serving_variables(params: dict) -> dict[str, str]:
    """What SageMaker sets in a batch transform's container; the last three only when the request names them."""
    env = {"SAGEMAKER_BATCH": "true"}
    if params.get("MaxPayloadInMB") is not None:
        env["SAGEMAKER_MAX_PAYLOAD_IN_MB"] = str(params["MaxPayloadInMB"])
    if params.get("BatchStrategy"):
        env["SAGEMAKER_BATCH_STRATEGY"] = STRATEGY_VARIABLE[params["BatchStrategy"]]
    if params.get("MaxConcurrentTransforms"):
        env["SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"] = str(params["MaxConcurrentTransforms"])
    return env


#: The request's parts the server's variables come from (with the model): what picks a server.
SERVER_KEYED = ("ModelName", "MaxPayloadInMB", "BatchStrategy", "MaxConcurrentTransforms", "Environment")


def warm_up(services: LocalServices, params: dict, control: TaskControl) -> None:
    """Start the model server the transform will use while the states before it run (the scoring Glue job),
    when its model and serving variables are already known (``ahead.py``) within an execution (its log goes
    with it); the transform takes it (``WarmServers.lease``). A server the transform cannot use (its model
    changed meanwhile) only idles, until newer ones or the session's end stop it (``warm.MAX_IDLE_SERVERS``)."""
    keyed = part_of(params, SERVER_KEYED)
    if not (control.execution_name and written_out(keyed) and isinstance(params.get("ModelName"), str)):
        return
    model = MODELS.describe(services, params["ModelName"])
    log_path = services.server_log_path(control)
    try:
        key, start = _server(services, params, model, log_path, control)
    except (KeyError, TypeError):  # a request or model the transform refuses, and says why itself
        return
    services.containers.servers.start_ahead(key, start)


@serves("sagemaker:createTransformJob.sync", client_error=CLIENT_ERROR, warm_up=warm_up)
def create_transform_job_sync(services: LocalServices, params: dict, control: TaskControl) -> dict:
    name = params["TransformJobName"]
    model = MODELS.describe(services, params["ModelName"])
    record = {
        **params,
        "TransformJobArn": services.arn("sagemaker", f"transform-job/{name}"),
        "TransformJobStatus": "InProgress",
        "CreationTime": now().isoformat(),
    }
    TRANSFORM_JOBS.claim(services, record)
    log_path = services.log_path(control, TRANSFORM_JOBS.folder, name)
    try:
        with TRANSFORM_JOBS.stopped_with_its_state(services, record):
            _run(services, params, model, log_path, control)
    except (TransformFailed, PipelineError) as failure:
        TRANSFORM_JOBS.finish(services, record, "Failed", f"{failure} (log: {log_path})")
    except OSError as error:
        if disk_full(error) is None:
            raise
        TRANSFORM_JOBS.finish(services, record, "Failed", disk_full(error))
    else:
        TRANSFORM_JOBS.finish(services, record, "Completed")
    return TRANSFORM_JOBS.sync_answer(record)


@serves("aws-sdk:sagemaker:describeTransformJob", client_error=CLIENT_ERROR)
def describe_transform_job(services: LocalServices, params: dict, control: TaskControl) -> dict:
    return TRANSFORM_JOBS.describe(services, params["TransformJobName"])


def _run(services: LocalServices, params: dict, model: dict, log_path: Path, control: TaskControl) -> None:
    concurrency = int(params.get("MaxConcurrentTransforms") or 1)
    key, start = _server(services, params, model, log_path, control)
    with services.containers.servers.lease(key, start, control.check) as (warm, running):
        if running:
            started = "started ahead of this job" if warm.ahead else "of an earlier transform of this model"
            _note(log_path, f"the model server {started} answers; its log: {warm.server.log_path}")
        for source, target in _inputs(services, params):
            control.check()
            _transform_file(warm.server.endpoint, source, target, params, concurrency, control)


def _server(
    services: LocalServices, params: dict, model: dict, log_path: Path, control: TaskControl
) -> tuple[tuple, Callable[[], WarmServer]]:
    """What picks the model server for this request (image, artifact and its bytes, variables), and how to start
    one: the model unpacked into a folder of its own, ``serve`` logging to ``log_path``."""
    container = model["PrimaryContainer"]
    env = {**container.get("Environment", {}), **serving_variables(params), **params.get("Environment", {})}
    archive = services.workspace.path_of(container["ModelDataUrl"])

    def start() -> WarmServer:
        jobs = services.workspace.root / JOBS_FOLDER
        jobs.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=f"{model['ModelName']}-", dir=jobs))
        try:
            unpack_model(archive, folder / "opt_ml" / "model")
            server = services.containers.start_server(
                container["Image"], folder / "opt_ml", log_path, env, running=control.running
            )
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return WarmServer(server, folder)

    return (container["Image"], container["ModelDataUrl"], _identity(archive), tuple(sorted(env.items()))), start


def _identity(path: Path) -> tuple[int, int]:
    """Which bytes a model artifact holds (size and change time): a server is reused only for the same."""
    status = path.stat()
    return status.st_size, status.st_mtime_ns


def _note(log_path: Path, line: str) -> None:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as log:
        log.write(f"[local runtime] {line}\n")


def unpack_model(archive: Path, target: Path) -> None:
    """``model.tar.gz`` into ``/opt/ml/model``, as SageMaker unpacks it for ``serve``."""
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")


def _inputs(services: LocalServices, params: dict) -> Iterator[tuple[Path, Path]]:
    """(input file, output file) per input object, in key order."""
    source = params["TransformInput"]["DataSource"]["S3DataSource"]
    bucket, prefix = parse_s3_uri(source["S3Uri"])
    objects = list(services.workspace.objects(bucket, prefix))
    if not objects:
        raise TransformFailed(f"no input objects under {source['S3Uri']}")
    output = params["TransformOutput"]["S3OutputPath"].rstrip("/")
    for key, path in objects:
        relative = (
            key[len(prefix) :].lstrip("/")
            if source.get("S3DataType", "S3Prefix") == "S3Prefix"
            else key.rsplit("/", 1)[-1]
        )
        yield path, services.workspace.path_of(f"{output}/{relative}.out")


def _transform_file(
    endpoint: http.Endpoint, source: Path, target: Path, params: dict, concurrency: int, control: TaskControl
) -> None:
    """Write ``target`` through a temp file that is removed if anything fails: no partial output, ever."""
    content_type = params["TransformInput"].get("ContentType", "text/csv")
    accept = params.get("TransformOutput", {}).get("Accept", content_type)
    client = _Client(endpoint, content_type, accept, source, invocation_timeout(params))
    handle, name = temp_file_beside(target)
    temporary = Path(name)
    try:
        with open(handle, "wb") as out:
            if params["TransformInput"].get("SplitType", "None") == "Line":
                _transform_lines(client, out, source, params, concurrency, control)
            else:
                _transform_whole(client, out, source, params)
        temporary.replace(target)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, OSError) and error.filename is None:  # a write's ENOSPC names no file: the output
            error.filename = str(target)
        raise


def _transform_whole(client: "_Client", out, source: Path, params: dict) -> None:
    """``SplitType=None``: the whole object is one request, its answer the output."""
    if params.get("DataProcessing") and any(v not in (None, "$", "None") for v in params["DataProcessing"].values()):
        raise TransformFailed("DataProcessing filters and joins need SplitType Line for CSV data")
    limit = _payload_limit(params)
    size = source.stat().st_size
    if limit and size > limit:
        raise TransformFailed(
            f"{source.name} is {size} bytes, over MaxPayloadInMB ({limit // MB} MB), and "
            f"SplitType None sends the whole file in one request"
        )
    answer = client.post(source.read_bytes(), 1)
    out.write(answer)
    if _assemble_lines(params) and not answer.endswith(b"\n"):
        out.write(b"\n")


def _transform_lines(client: "_Client", out, source: Path, params: dict, concurrency: int, control: TaskControl):
    processing = params.get("DataProcessing") or {}
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        pending: deque = deque()
        for first_line, records in mini_batches(source, params):
            control.check()
            body = b"".join(apply_filter(r, processing.get("InputFilter")) + b"\n" for r in records)
            pending.append((first_line, records, pool.submit(client.post, body, first_line)))
            if len(pending) > 2 * concurrency:
                _write_batch(out, *pending.popleft(), params)
        while pending:
            _write_batch(out, *pending.popleft(), params)


def invocation_timeout(params: dict) -> float:
    """How long one ``/invocations`` request may take: ``ModelClientConfig.InvocationsTimeoutInSeconds``."""
    config = params.get("ModelClientConfig") or {}
    return float(config.get("InvocationsTimeoutInSeconds") or INVOCATION_TIMEOUT_SECONDS)


def _payload_limit(params: dict) -> int:
    """Bytes per request; 0 means no limit (``MaxPayloadInMB=0``, for chunked transfers)."""
    megabytes = params.get("MaxPayloadInMB")
    return (DEFAULT_PAYLOAD_MB if megabytes is None else int(megabytes)) * MB


def _assemble_lines(params: dict) -> bool:
    return params.get("TransformOutput", {}).get("AssembleWith", "None") == "Line"


class _Client:
    """One kept-alive connection per worker thread (connections are not shared across threads)."""

    def __init__(self, endpoint: http.Endpoint, content_type: str, accept: str, source: Path, timeout: float):
        self.endpoint, self.source, self.timeout = endpoint, source, timeout
        self.headers = {"Content-Type": content_type, "Accept": accept}
        self.local = threading.local()

    def post(self, body: bytes, first_line: int) -> bytes:
        session = getattr(self.local, "session", None) or http.Session(self.endpoint, self.timeout)
        self.local.session = session
        try:
            status, answer = session.post("/invocations", body, self.headers)
        except OSError as error:
            session.close()
            raise TransformFailed(
                f"{self.source.name}: the model server did not answer for the mini-batch at line {first_line}: {error}"
            ) from None
        if status != 200:
            raise TransformFailed(
                f"{self.source.name}: the model server answered {status} for the mini-batch "
                f"at line {first_line}: {answer.decode(errors='replace').strip()[:500]}"
            )
        return answer


def _write_batch(out, first_line: int, records: list[bytes], future, params: dict) -> None:
    answer = future.result()
    processing = params.get("DataProcessing") or {}
    join = processing.get("JoinSource", "None") == "Input"
    predictions = answer.splitlines()
    if len(predictions) != len(records):
        if join or processing.get("OutputFilter") not in (None, "$"):
            raise TransformFailed(
                f"the model server returned {len(predictions)} lines for {len(records)} records "
                f"(mini-batch at line {first_line}), so they cannot be joined"
            )
        out.write(answer if not _assemble_lines(params) or answer.endswith(b"\n") else answer + b"\n")
        return
    separator = b"\n" if _assemble_lines(params) else b""
    for record, prediction in zip(records, predictions, strict=True):
        joined = record + b"," + prediction if join else prediction
        out.write(apply_filter(joined, processing.get("OutputFilter")) + separator)


def mini_batches(source: Path, params: dict) -> Iterator[tuple[int, list[bytes]]]:
    """(first line number, records) under MaxPayloadInMB; SingleRecord sends one record per request."""
    limit = _payload_limit(params)
    single = params.get("BatchStrategy", "MultiRecord") == "SingleRecord"
    parsed = _reads_csv_records(params)
    batch: list[bytes] = []
    size, first = 0, 1
    with open(source, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            record = line.rstrip(b"\r\n")
            if not record:
                continue
            if parsed and record.count(b'"') % 2:
                raise TransformFailed(
                    f"{source.name}: line {number} ends inside a quoted field; batch transform splits records at "
                    f"line breaks and does not support CSV with line breaks inside a field"
                )
            if limit and len(record) + 1 > limit:
                raise TransformFailed(
                    f"{source.name}: line {number} is {len(record)} bytes, over MaxPayloadInMB ({limit // MB} MB)"
                )
            if batch and (single or (limit and size + len(record) + 1 > limit)):
                yield first, batch
                batch, size = [], 0
            if not batch:
                first = number
            batch.append(record)
            size += len(record) + 1
    if batch:
        yield first, batch


def _reads_csv_records(params: dict) -> bool:
    """Whether DataProcessing reads each CSV record (a filter other than ``$``, or a join): then a record must be
    whole RFC 4180 CSV on its line ("For CSV files, you cannot use embedded newline characters")."""
    processing = params.get("DataProcessing") or {}
    content_type = params.get("TransformInput", {}).get("ContentType", "text/csv").split(";")[0].strip()
    filters = any(processing.get(key) not in (None, "$") for key in ("InputFilter", "OutputFilter"))
    return content_type == "text/csv" and (filters or processing.get("JoinSource") == "Input")


def apply_filter(record: bytes, expression: str | None) -> bytes:
    """SageMaker's JSONPath for a CSV record (a JSON array): ``$``, ``$[i]``, ``$[i,j]``, ``$[a:b]`` and mixes
    like ``$[0,5:]``; negative indexes count from the end; a slice includes its end, as SageMaker documents
    ("``$[1:4]`` specifies the second through fifth columns")."""
    if not expression or expression == "$":
        return record
    if not (expression.startswith("$[") and expression.endswith("]")):
        raise TransformFailed(f"unsupported DataProcessing filter {expression!r} (use $, $[i], $[i,j] or $[a:b])")
    fields = _fields(record)
    try:
        chosen = [fields[i] for item in expression[2:-1].split(",") for i in _indexes(item.strip(), len(fields))]
    except (ValueError, IndexError):
        raise TransformFailed(
            f"DataProcessing filter {expression!r} does not fit a record with {len(fields)} fields"
        ) from None
    return _record(chosen)


def _indexes(item: str, count: int) -> range:
    if ":" not in item:
        index = _index(item, count)
        return range(index, index + 1)
    start, _, stop = item.partition(":")
    return range(_index(start, count) if start else 0, (_index(stop, count) if stop else count - 1) + 1)


def _index(text: str, count: int) -> int:
    index = int(text)
    index = index + count if index < 0 else index
    if not 0 <= index < count:
        raise IndexError(index)
    return index


def _fields(record: bytes) -> list[bytes]:
    """The fields of a CSV record; quoted fields (commas, quotes inside) are read as RFC 4180 says."""
    if b'"' not in record:
        return record.split(b",")
    return [field.encode() for field in next(csv.reader([record.decode()]))]


def _record(fields: list[bytes]) -> bytes:
    if not any(b"," in field or b'"' in field or b"\n" in field or b"\r" in field for field in fields):
        return b",".join(fields)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(field.decode() for field in fields)
    return buffer.getvalue().encode()
