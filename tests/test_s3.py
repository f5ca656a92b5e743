"""aws-sdk S3 calls answer from the workspace with S3's shapes and error names."""

from __future__ import annotations

import json
import re

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
