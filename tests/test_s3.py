"""aws-sdk S3 calls answer from the workspace with S3's shapes and error names."""

from __future__ import annotations

import json
import re
import time

import pytest

from conftest import dispatch, running_control
from mlops_pipeline.local.integrations.s3 import copy_object, get_object, head_object, put_object
from mlops_pipeline.local.tasks import TaskFailure


def test_put_get_and_copy_round_trip(services):
    put = put_object(
        services, {"Bucket": "meta", "Key": "p/latest.json", "Body": json.dumps({"a": 1})}, running_control()
    )
    got = get_object(services, {"Bucket": "meta", "Key": "p/latest.json"}, running_control())
    assert json.loads(got["Body"]) == {"a": 1} and got["ETag"] == put["ETag"] and got["ContentLength"] == 8
    copied = copy_object(
        services, {"Bucket": "out", "Key": "x/y.json", "CopySource": "meta/p/latest.json"}, running_control()
    )
    assert copied["CopyObjectResult"]["ETag"] == put["ETag"]
    assert head_object(services, {"Bucket": "out", "Key": "x/y.json"}, running_control())["ContentLength"] == 8


@pytest.mark.parametrize(
    "resource, params",
    [
        ("aws-sdk:s3:getObject", {"Bucket": "meta", "Key": "none.json"}),
        ("aws-sdk:s3:copyObject", {"Bucket": "out", "Key": "k", "CopySource": "meta/none.json"}),
        ("aws-sdk:s3:headObject", {"Bucket": "meta", "Key": "none.json"}),
    ],
)
def test_a_missing_key_is_no_such_key_as_step_functions_names_it(services, resource, params):
    with pytest.raises(TaskFailure, match="The specified key does not exist") as failure:
        dispatch(services, resource, params)
    assert failure.value.error == "S3.NoSuchKeyException"
    assert re.search(r"\(Service: S3, Status Code: 404, Request ID: \S+\)$", failure.value.cause)


def test_conditional_writes_refuse_a_stale_or_existing_object_as_s3_does(services):
    """S3 conditional writes: IfNoneMatch "*" only creates; IfMatch only replaces the ETag read."""
    first = dispatch(
        services, "aws-sdk:s3:putObject", {"Bucket": "meta", "Key": "l.json", "Body": "1", "IfNoneMatch": "*"}
    )
    with pytest.raises(TaskFailure) as exists:
        dispatch(services, "aws-sdk:s3:putObject", {"Bucket": "meta", "Key": "l.json", "Body": "2", "IfNoneMatch": "*"})
    replaced = dispatch(
        services, "aws-sdk:s3:putObject", {"Bucket": "meta", "Key": "l.json", "Body": "3", "IfMatch": first["ETag"]}
    )
    with pytest.raises(TaskFailure) as stale:
        dispatch(
            services, "aws-sdk:s3:putObject", {"Bucket": "meta", "Key": "l.json", "Body": "4", "IfMatch": first["ETag"]}
        )
    assert exists.value.error == stale.value.error == "S3.S3Exception"  # PreconditionFailed is not in S3's model
    assert "(Service: S3, Status Code: 412," in stale.value.cause
    assert get_object(services, {"Bucket": "meta", "Key": "l.json"}, running_control())["ETag"] == replaced["ETag"]


def test_a_copy_reads_the_version_it_names_and_only_bytes_whose_etag_matches(services, tmp_path):
    (tmp_path / "v1.csv").write_text("id\n1\n")
    services.workspace.put_file("store", "data/a b.csv", tmp_path / "v1.csv", keep_version=True)
    from mlops_pipeline.local.stores import etag_of, version_of

    path = services.workspace.path("store", "data/a b.csv")
    v1, etag1 = version_of(path), etag_of(path)
    time.sleep(0.01)
    (tmp_path / "v2.csv").write_text("id\n2\n")
    services.workspace.put_file("store", "data/a b.csv", tmp_path / "v2.csv", keep_version=True)
    copy = {"Bucket": "ex", "Key": "pinned.csv", "CopySource": f"store/data/a%20b.csv?versionId={v1}"}
    dispatch(services, "aws-sdk:s3:copyObject", copy | {"CopySourceIfMatch": etag1})
    assert services.workspace.path("ex", "pinned.csv").read_text() == "id\n1\n"  # v1, though v2 is current
    with pytest.raises(TaskFailure) as changed:  # no version: only the bytes the event named will do
        dispatch(
            services,
            "aws-sdk:s3:copyObject",
            {**copy, "CopySource": "store/data/a%20b.csv", "CopySourceIfMatch": etag1},
        )
    with pytest.raises(TaskFailure) as gone:
        dispatch(services, "aws-sdk:s3:copyObject", {**copy, "CopySource": "store/data/a%20b.csv?versionId=123"})
    assert changed.value.error == gone.value.error == "S3.S3Exception"
    assert "Status Code: 412" in changed.value.cause and "The specified version does not exist" in gone.value.cause
