"""``sagemaker:createTransformJob(.sync)``: the container's ``serve`` program scores each input file.

Like SageMaker batch transform with ``SplitType=Line``: each input object is streamed by line into
MultiRecord (or SingleRecord) mini-batches under ``MaxPayloadInMB``, ``MaxConcurrentTransforms``
requests are in flight, ``DataProcessing`` filters and joins CSV records, and ``<input>.out`` is written
in input order (``AssembleWith=Line``). No input file is ever held in memory whole.
"""

from __future__ import annotations

import tarfile
import tempfile
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import requests

from mlops_pipeline.container import start_server
from mlops_pipeline.errors import PipelineError
from mlops_pipeline.local.integrations import serves
from mlops_pipeline.local.integrations.sagemaker_model import MODELS
from mlops_pipeline.local.jobs import JobKind, now
from mlops_pipeline.local.services import LocalServices
from mlops_pipeline.local.stores import TEMP_PREFIX, parse_s3_uri
from mlops_pipeline.local.tasks import TaskControl

TRANSFORM_JOBS = JobKind(
    folder="transform-jobs",
    name_field="TransformJobName",
    status_field="TransformJobStatus",
    end_field="TransformEndTime",
    not_found_error="SageMaker.ValidationException",
    not_found_message='Could not find job "{name}".',
)
CLIENT_ERROR = "SageMaker.ValidationException"
MB = 1024 * 1024


class TransformFailed(Exception):
    """The job fails with this reason (a bad record, an error answer from the model server)."""


@serves("sagemaker:createTransformJob.sync", client_error=CLIENT_ERROR)
def create_transform_job_sync(services: LocalServices, params: dict, control: TaskControl) -> dict:
    name = params["TransformJobName"]
    model = MODELS.describe(services, params["ModelName"])
    program = services.program_dir(model["PrimaryContainer"]["Image"])
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
            _run(services, params, model, program, log_path, control)
    except (TransformFailed, PipelineError) as failure:
        TRANSFORM_JOBS.finish(services, record, "Failed", f"{failure} (log: {log_path})")
    else:
        TRANSFORM_JOBS.finish(services, record, "Completed")
    return TRANSFORM_JOBS.sync_answer(record)


@serves("aws-sdk:sagemaker:describeTransformJob", client_error=CLIENT_ERROR)
def describe_transform_job(services: LocalServices, params: dict, control: TaskControl) -> dict:
    return TRANSFORM_JOBS.describe(services, params["TransformJobName"])


def _run(
    services: LocalServices, params: dict, model: dict, program: Path, log_path: Path, control: TaskControl
) -> None:
    concurrency = int(params.get("MaxConcurrentTransforms") or 1)
    payload_mb = int(params.get("MaxPayloadInMB") or 6)
    with tempfile.TemporaryDirectory(prefix="model-", dir=services.workspace.root) as model_dir:
        _unpack(services.workspace.path_of(model["PrimaryContainer"]["ModelDataUrl"]), Path(model_dir))
        with start_server(program, Path(model_dir), log_path, workers=concurrency, max_payload_mb=payload_mb) as server:
            for source, target in _inputs(services, params):
                control.check()
                _transform_file(server.url, source, target, params, concurrency, control)


def _unpack(archive: Path, target: Path) -> None:
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


def _transform_file(url: str, source: Path, target: Path, params: dict, concurrency: int, control: TaskControl) -> None:
    processing = params.get("DataProcessing") or {}
    content_type = params["TransformInput"].get("ContentType", "text/csv")
    accept = params.get("TransformOutput", {}).get("Accept", content_type)
    client = _Client(url, content_type, accept, source)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.parent / f"{TEMP_PREFIX}{target.name}"
    with open(temporary, "wb") as out, ThreadPoolExecutor(max_workers=concurrency) as pool:
        pending: deque = deque()
        for first_line, records in mini_batches(source, params):
            control.check()
            body = b"".join(apply_filter(r, processing.get("InputFilter")) + b"\n" for r in records)
            pending.append((first_line, records, pool.submit(client.post, body, first_line)))
            if len(pending) > 2 * concurrency:
                _write_batch(out, *pending.popleft(), processing)
        while pending:
            _write_batch(out, *pending.popleft(), processing)
    temporary.replace(target)


class _Client:
    """One HTTP session per worker thread (sessions are not shared across threads)."""

    def __init__(self, url: str, content_type: str, accept: str, source: Path):
        self.url, self.headers, self.source = (
            f"{url}/invocations",
            {"Content-Type": content_type, "Accept": accept},
            source,
        )
        self.local = threading.local()

    def post(self, body: bytes, first_line: int) -> bytes:
        session = getattr(self.local, "session", None) or requests.Session()
        self.local.session = session
        try:
            response = session.post(self.url, data=body, headers=self.headers, timeout=600)
        except requests.RequestException as error:
            raise TransformFailed(
                f"{self.source.name}: the model server did not answer for the mini-batch at line {first_line}: {error}"
            ) from None
        if response.status_code != 200:
            raise TransformFailed(
                f"{self.source.name}: the model server answered {response.status_code} for the mini-batch "
                f"at line {first_line}: {response.text.strip()[:500]}"
            )
        return response.content


def _write_batch(out, first_line: int, records: list[bytes], future, processing: dict) -> None:
    predictions = future.result().splitlines()
    if len(predictions) != len(records):
        raise TransformFailed(
            f"the model server returned {len(predictions)} lines for {len(records)} records "
            f"(mini-batch at line {first_line})"
        )
    join = processing.get("JoinSource", "None") == "Input"
    for record, prediction in zip(records, predictions, strict=True):
        joined = record + b"," + prediction if join else prediction
        out.write(apply_filter(joined, processing.get("OutputFilter")) + b"\n")


def mini_batches(source: Path, params: dict) -> Iterator[tuple[int, list[bytes]]]:
    """(first line number, records) under MaxPayloadInMB; SingleRecord sends one record per request."""
    limit = int(params.get("MaxPayloadInMB") or 6) * MB
    single = params.get("BatchStrategy", "MultiRecord") == "SingleRecord"
    batch: list[bytes] = []
    size, first = 0, 1
    with open(source, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            record = line.rstrip(b"\r\n")
            if not record:
                continue
            if len(record) + 1 > limit:
                raise TransformFailed(
                    f"{source.name}: line {number} is {len(record)} bytes, over MaxPayloadInMB ({limit // MB} MB)"
                )
            if batch and (single or size + len(record) + 1 > limit):
                yield first, batch
                batch, size = [], 0
            if not batch:
                first = number
            batch.append(record)
            size += len(record) + 1
    if batch:
        yield first, batch


def apply_filter(record: bytes, expression: str | None) -> bytes:
    """The JSONPath subset SageMaker's CSV filters use: ``$``, ``$[i]``, ``$[i,j,...]``, ``$[a:b]``."""
    if not expression or expression == "$":
        return record
    if not (expression.startswith("$[") and expression.endswith("]")):
        raise TransformFailed(f"unsupported DataProcessing filter {expression!r} (use $, $[i], $[i,j] or $[a:b])")
    fields = record.split(b",")
    selector = expression[2:-1]
    try:
        if ":" in selector:
            start, _, stop = selector.partition(":")
            chosen = fields[int(start) if start else None : int(stop) if stop else None]
        else:
            chosen = [fields[int(index)] for index in selector.split(",")]
    except (ValueError, IndexError):
        raise TransformFailed(
            f"DataProcessing filter {expression!r} does not fit a record with {len(fields)} fields"
        ) from None
    return b",".join(chosen)
