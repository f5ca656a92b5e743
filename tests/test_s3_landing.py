"""The landing handler: exactly one execution per landed object version, whatever S3 delivers."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote_plus

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from mlops_pipeline.handlers import s3_landing
from mlops_pipeline.handlers.s3_landing import Settings, execution_name, handle_event, parse_record

DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
ROLE = "arn:aws:iam::123456789012:role/states"


def record(
    key: str,
    *,
    bucket="feature-store",
    size=100,
    etag="abc123",
    version=None,
    sequencer="0055AED6DCD90281E5",
    event="ObjectCreated:Put",
    encode=True,
) -> dict:
    obj = {"key": quote_plus(key) if encode else key, "size": size, "eTag": etag, "sequencer": sequencer}
    if version:
        obj["versionId"] = version
    return {
        "eventSource": "aws:s3",
        "eventName": event,
        "eventTime": "2026-11-24T10:00:00.000Z",
        "s3": {"bucket": {"name": bucket}, "object": obj},
    }


def event(*records) -> dict:
    return {"Records": list(records)}


@pytest.fixture
def sfn(aws_credentials):
    with mock_aws():
        client = boto3.client("stepfunctions", region_name="us-east-1")
        training = client.create_state_machine(name="p-training", definition=DEFINITION, roleArn=ROLE)[
            "stateMachineArn"
        ]
        scoring = client.create_state_machine(name="p-scoring", definition=DEFINITION, roleArn=ROLE)["stateMachineArn"]
        yield client, Settings(training_arn=training, scoring_arn=scoring)


def executions(client, arn):
    return client.list_executions(stateMachineArn=arn, maxResults=1000)["executions"]


def test_training_and_scoring_files_start_their_state_machines(sfn):
    client, settings = sfn
    summary = handle_event(event(record("data/train/jan.csv"), record("data/score/feb.csv")), client, settings)
    assert len(summary["started"]) == 2
    (training,) = executions(client, settings.training_arn)
    (scoring,) = executions(client, settings.scoring_arn)
    assert training["name"].startswith("train-jan-") and scoring["name"].startswith("score-feb-")
    payload = json.loads(client.describe_execution(executionArn=training["executionArn"])["input"])
    assert payload["bucket"] == "feature-store" and payload["key"] == "data/train/jan.csv"
    assert (
        payload["size"] == 100 and payload["etag"] == "abc123" and payload["event_time"] == "2026-11-24T10:00:00.000Z"
    )
    assert len(payload["job_stem"]) == 12 and payload["job_stem"].startswith("t")


def test_same_event_delivered_1000_times_sequentially_starts_one_execution(sfn):
    client, settings = sfn
    delivery = event(record("data/train/once.csv", version="v1"))
    outcomes = [handle_event(delivery, client, settings) for _ in range(1000)]
    assert len(executions(client, settings.training_arn)) == 1
    assert sum(len(o["started"]) + len(o["duplicate"]) for o in outcomes) == 1000


def test_same_event_from_16_threads_starts_one_execution(sfn):
    client, settings = sfn
    delivery = event(record("data/train/once.csv", version="v1"))
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda _: handle_event(delivery, client, settings), range(1000)))
    assert len(executions(client, settings.training_arn)) == 1


def test_200_distinct_files_landing_concurrently_start_200_executions(sfn):
    client, settings = sfn
    deliveries = [event(record(f"data/score/file {n}.csv", etag=f"e{n}")) for n in range(200)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda e: handle_event(e, client, settings), deliveries))
    names = [e["name"] for e in executions(client, settings.scoring_arn)]
    assert len(names) == len(set(names)) == 200


def test_a_new_version_of_the_same_key_gets_a_new_execution(sfn):
    client, settings = sfn
    handle_event(event(record("data/train/a.csv", version="v1")), client, settings)
    handle_event(event(record("data/train/a.csv", version="v2")), client, settings)
    assert len(executions(client, settings.training_arn)) == 2


@pytest.mark.parametrize(
    "key",
    [
        "data/score/a b.csv",
        "data/score/c++.csv",
        "data/score/50%.csv",
        "data/score/x (1).csv",
        "data/score/données.csv",
    ],
)
def test_keys_are_decoded_exactly_once(sfn, key):
    client, settings = sfn
    summary = handle_event(event(record(key)), client, settings)
    (execution,) = executions(client, settings.scoring_arn)
    payload = json.loads(client.describe_execution(executionArn=execution["executionArn"])["input"])
    assert payload["key"] == key
    assert summary["started"] == [execution["name"]]


def test_execution_names_are_safe_and_bounded():
    long_key = "data/train/" + "Ünïcode spaces & symbols!" * 10 + ".csv"
    name = execution_name("train", parse_record(record(long_key)))
    assert len(name) <= 80
    assert all(c.isascii() and (c.isalnum() or c in "-_") for c in name)
    assert name.startswith("train-unicode-spaces-symbols-unicode")


def test_test_event_has_no_records_and_is_ignored(sfn):
    client, settings = sfn
    summary = handle_event(
        {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "feature-store"}, client, settings
    )
    assert summary == {"started": [], "duplicate": [], "ignored": [], "rejected": []}


@pytest.mark.parametrize(
    "rec, reason",
    [
        (record("data/train/"), "folder marker"),
        (record("data/train/empty.csv", size=0), "zero-byte object"),
        (record("elsewhere/a.csv"), "outside data/train/ and data/score/"),
        (record("data/train/a.parquet"), "suffix not in .csv"),
        (record("data/train/.a.csv.partial"), "hidden or temporary file"),
        (record("data/train/a.csv", event="ObjectRemoved:Delete"), "not an object creation"),
    ],
)
def test_ignore_rules(sfn, rec, reason):
    client, settings = sfn
    summary = handle_event(event(rec), client, settings)
    assert summary["started"] == [] and reason in summary["ignored"][0]["reason"]
    assert executions(client, settings.training_arn) == []


def test_objects_the_pipeline_writes_are_ignored(sfn):
    client, settings = sfn
    settings = Settings(settings.training_arn, settings.scoring_arn, training_prefix="", ignored_prefixes=("mlops/",))
    summary = handle_event(event(record("mlops/extract.csv")), client, settings)
    assert summary["ignored"][0]["reason"] == "written by the pipeline itself"


@pytest.mark.parametrize(
    "broken, field", [("bucket", "s3.bucket.name"), ("key", "s3.object.key"), ("event", "eventName")]
)
def test_malformed_record_is_rejected_without_blocking_the_others(sfn, broken, field, caplog):
    client, settings = sfn
    bad = record("data/train/bad.csv")
    if broken == "bucket":
        del bad["s3"]["bucket"]
    elif broken == "key":
        del bad["s3"]["object"]["key"]
    else:
        del bad["eventName"]
    with caplog.at_level("INFO", logger=s3_landing.__name__):
        summary = handle_event(event(bad, record("data/train/good.csv")), client, settings)
    assert summary["rejected"] == [{"reason": f"record lacks {field}"}]
    assert len(summary["started"]) == 1
    logged = [json.loads(r.getMessage()) for r in caplog.records]
    assert {"action": "rejected", "reason": f"record lacks {field}"} in logged


def stubbed_client(*errors):
    client = boto3.client("stepfunctions", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    for code, status in errors:
        stubber.add_client_error("start_execution", service_error_code=code, http_status_code=status)
    return client, stubber


def test_closed_execution_already_exists_is_a_duplicate_not_an_error():
    client, stubber = stubbed_client(("ExecutionAlreadyExists", 400))
    with stubber:
        summary = handle_event(event(record("data/train/a.csv")), client, Settings("arn:t", "arn:s"))
    assert summary["duplicate"] and not summary["started"]


def test_throttling_and_5xx_are_retried_with_backoff():
    client, stubber = stubbed_client(("ThrottlingException", 400), ("InternalServerError", 500))
    stubber.add_response("start_execution", {"executionArn": "arn:x", "startDate": "2026-01-01T00:00:00Z"})
    delays = []
    with stubber:
        summary = handle_event(
            event(record("data/train/a.csv")), client, Settings("arn:t", "arn:s"), sleep=delays.append
        )
    assert len(summary["started"]) == 1 and len(delays) == 2
    assert 0 <= delays[0] <= s3_landing.BASE_DELAY_SECONDS and 0 <= delays[1] <= 2 * s3_landing.BASE_DELAY_SECONDS


def test_other_errors_raise_so_lambda_retries_and_the_dlq_sees_them():
    client, stubber = stubbed_client(("AccessDeniedException", 400))
    with stubber, pytest.raises(Exception, match="AccessDeniedException"):
        handle_event(event(record("data/train/a.csv")), client, Settings("arn:t", "arn:s"))


def test_settings_from_environment():
    settings = Settings.from_env(
        {
            "TRAINING_STATE_MACHINE_ARN": "t",
            "SCORING_STATE_MACHINE_ARN": "s",
            "ACCEPTED_SUFFIXES": ".csv, .CSV.gz",
            "TRAINING_PREFIX": "in/train/",
        }
    )
    assert settings.accepted_suffixes == (".csv", ".CSV.gz") and settings.training_prefix == "in/train/"
    with pytest.raises(RuntimeError, match="set TRAINING_STATE_MACHINE_ARN, SCORING_STATE_MACHINE_ARN"):
        Settings.from_env({})


def test_handler_imports_only_the_standard_library_and_boto3():
    code = (
        "import sys\nimport mlops_pipeline.handlers.s3_landing\n"
        "heavy = {'pandas', 'sagemaker', 'stepfunctions', 'moto', 'numpy', 'pydantic', 'click'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr


def test_lambda_zip_holds_only_the_handler_and_imports_in_a_bare_interpreter(tmp_path):
    from mlops_pipeline.lambda_zip import build

    archive = build(tmp_path / "landing_handler.zip")
    with zipfile.ZipFile(archive) as opened:
        names = sorted(opened.namelist())
    assert names == [
        "mlops_pipeline/__init__.py",
        "mlops_pipeline/handlers/__init__.py",
        "mlops_pipeline/handlers/s3_landing.py",
        "mlops_pipeline/layout.py",
        "mlops_pipeline/naming.py",
    ]
    code = (
        "import sys\nsys.path[:] = [p for p in sys.path if 'site-packages' not in p and p not in ('', '.')]\n"
        f"sys.path.insert(0, {str(archive)!r})\n"
        "import mlops_pipeline.handlers.s3_landing as h\n"
        "print(h.lambda_handler.__name__, h.__file__)"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "lambda_handler" in result.stdout and "landing_handler.zip" in result.stdout
