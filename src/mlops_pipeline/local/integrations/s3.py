"""``aws-sdk:s3:*`` calls the definitions make, served from the workspace with S3's response shapes.

Errors carry the names Step Functions gives S3 errors (``S3.NoSuchKeyException``), so Catch matches.
"""

from __future__ import annotations

import datetime
import json
from urllib.parse import parse_qs, unquote

from mlops_pipeline.aws_errors import AwsError
from mlops_pipeline.local.integrations import serves
from mlops_pipeline.local.services import LocalServices
from mlops_pipeline.local.stores import etag_of
from mlops_pipeline.local.tasks import TaskControl

#: What S3 answers for a request it refuses; not in its service model, so Step Functions reports ``S3.S3Exception``.
CLIENT_ERROR = "InvalidArgument"


def _missing(bucket: str, key: str) -> AwsError:
    """S3's answer for a missing key (``S3.NoSuchKeyException`` through Step Functions)."""
    return AwsError("NoSuchKey", f"The specified key does not exist. (Key: s3://{bucket}/{key})")


def _precondition_failed() -> AwsError:
    """S3's answer to a conditional request whose condition does not hold (``S3.S3Exception``: not modelled)."""
    return AwsError("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412)


@serves("aws-sdk:s3:putObject", client_error=CLIENT_ERROR)
def put_object(services: LocalServices, params: dict, control: TaskControl) -> dict:
    """A write, conditional on ``IfNoneMatch: *`` (no such object yet) or ``IfMatch`` (its ETag is still
    this one) as S3 conditional writes are: 412 PreconditionFailed otherwise, 404 for IfMatch on no object."""
    body = params.get("Body", "")
    data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    bucket, key = params["Bucket"], params["Key"]
    with services.conditional_writes:
        current = services.workspace.path(bucket, key)
        if params.get("IfNoneMatch") == "*" and current.is_file():
            raise _precondition_failed()
        if "IfMatch" in params:
            if not current.is_file():
                raise _missing(bucket, key)
            if params["IfMatch"].strip('"') != etag_of(current).strip('"'):
                raise _precondition_failed()
        path = services.workspace.put_bytes(bucket, key, data)
    return {"ETag": etag_of(path)}


@serves("aws-sdk:s3:getObject", client_error=CLIENT_ERROR)
def get_object(services: LocalServices, params: dict, control: TaskControl) -> dict:
    """The body as text, as Step Functions returns it for the aws-sdk integration."""
    path = services.workspace.path(params["Bucket"], params["Key"])
    if not path.is_file():
        raise _missing(params["Bucket"], params["Key"])
    return {
        "Body": path.read_text(),
        "ContentLength": path.stat().st_size,
        "ETag": etag_of(path),
        "LastModified": _modified(path),
        "ContentType": params.get("ResponseContentType", "binary/octet-stream"),
    }


@serves("aws-sdk:s3:copyObject", client_error=CLIENT_ERROR)
def copy_object(services: LocalServices, params: dict, control: TaskControl) -> dict:
    """``CopySource`` is URL-encoded ``bucket/key``, optionally ``?versionId=``; ``CopySourceIfMatch`` must
    match the source's ETag (S3 answers 412 PreconditionFailed otherwise)."""
    location, _, query = params["CopySource"].partition("?")
    source_bucket, _, source_key = unquote(location).lstrip("/").partition("/")
    version = parse_qs(query).get("versionId", [""])[0]
    if version:
        source = services.workspace.version(source_bucket, source_key, version)
    else:
        source = services.workspace.path(source_bucket, source_key)
    if source is None:
        raise AwsError(
            "NoSuchVersion", f"The specified version does not exist. (s3://{source_bucket}/{source_key} {version})", 404
        )
    if not source.is_file():
        raise _missing(source_bucket, source_key)
    expected = params.get("CopySourceIfMatch")
    if expected not in (None, "*") and expected.strip('"') != etag_of(source).strip('"'):
        raise _precondition_failed()
    target = services.workspace.put_file(params["Bucket"], params["Key"], source)
    return {"CopyObjectResult": {"ETag": etag_of(target), "LastModified": _modified(target)}}


@serves("aws-sdk:s3:headObject", client_error=CLIENT_ERROR)
def head_object(services: LocalServices, params: dict, control: TaskControl) -> dict:
    path = services.workspace.path(params["Bucket"], params["Key"])
    if not path.is_file():
        raise _missing(params["Bucket"], params["Key"])  # HeadObject declares NoSuchKey for a missing key
    return {"ContentLength": path.stat().st_size, "ETag": etag_of(path), "LastModified": _modified(path)}


def _modified(path) -> str:
    return datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.timezone.utc).isoformat()
