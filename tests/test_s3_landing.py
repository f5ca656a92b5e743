"""The landing handler: exactly one execution per landed object version, whatever S3 delivers."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from urllib.parse import quote_plus

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from mlops_pipeline.handlers import s3_landing
from mlops_pipeline.handlers.s3_landing import LandingFailed, Settings, execution_name, handle_event, parse_record

BUCKET = "feature-store"
DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
ROLE = "arn:aws:iam::123456789012:role/states"


def record(
    key: str,
    *,
    bucket=BUCKET,
    size=100,
    etag="abc123",
    version=None,
    sequencer="0055AED6DCD90281E5",
    event="ObjectCreated:Put",
    encode=True,
) -> dict:
    """One record as S3 sends it (event message structure 2.1): the key URL-encoded, spaces as ``+``."""
    obj = {"key": quote_plus(key) if encode else key, "size": size, "eTag": etag, "sequencer": sequencer}
    if version:
        obj["versionId"] = version
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-11-24T10:00:00.000Z",
        "eventName": event,
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "203.0.113.7"},
        "responseElements": {
            "x-amz-request-id": "C3D13FE58DE4C810",
            "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V",
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "training-files",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": obj,
        },
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
        yield client, Settings(training_arn=training, scoring_arn=scoring, feature_store_bucket=BUCKET)


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
    assert summary == {
        "started": [],
        "duplicate": [],
        "ignored": [{"reason": "no records (s3:TestEvent)"}],
        "rejected": [],
        "failed": [],
    }


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
    with stubber, pytest.raises(LandingFailed, match="record 0 \\(data/train/a.csv\\): AccessDeniedException"):
        handle_event(event(record("data/train/a.csv")), client, Settings("arn:t", "arn:s"))


def test_settings_from_environment():
    settings = Settings.from_env(
        {
            "TRAINING_STATE_MACHINE_ARN": "t",
            "SCORING_STATE_MACHINE_ARN": "s",
            "FEATURE_STORE_BUCKET": "store",
            "ACCEPTED_SUFFIXES": ".csv, .CSV.gz",
            "TRAINING_PREFIX": "in/train/",
        }
    )
    assert settings.accepted_suffixes == (".csv", ".CSV.gz") and settings.training_prefix == "in/train/"
    assert settings.feature_store_bucket == "store"
    with pytest.raises(
        RuntimeError, match="set TRAINING_STATE_MACHINE_ARN, SCORING_STATE_MACHINE_ARN, FEATURE_STORE_BUCKET"
    ):
        Settings.from_env({})
    with pytest.raises(RuntimeError, match="set FEATURE_STORE_BUCKET$"):
        Settings.from_env({"TRAINING_STATE_MACHINE_ARN": "t", "SCORING_STATE_MACHINE_ARN": "s"})


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
        "mlops_pipeline/handlers/failure_notice.py",
        "mlops_pipeline/handlers/s3_landing.py",
        "mlops_pipeline/layout.py",
        "mlops_pipeline/naming.py",
    ]
    code = (
        "import sys\nsys.path[:] = [p for p in sys.path if 'site-packages' not in p and p not in ('', '.')]\n"
        f"sys.path.insert(0, {str(archive)!r})\n"
        "import mlops_pipeline.handlers.s3_landing as h\n"
        "import mlops_pipeline.handlers.failure_notice as n\n"
        "print(h.lambda_handler.__name__, n.lambda_handler.__name__, h.__file__)"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "lambda_handler" in result.stdout and "landing_handler.zip" in result.stdout


# -- every record on its own --------------------------------------------------------------------------


def good() -> dict:
    return record("data/train/good file.csv", sequencer="0065A1B2C3D4E5F601")


def with_object(**fields) -> dict:
    """A training record whose ``s3.object`` fields are replaced (``None`` deletes one)."""
    changed = record("data/train/bad.csv")
    for name, value in fields.items():
        if value is None:
            del changed["s3"]["object"][name]
        else:
            changed["s3"]["object"][name] = value
    return changed


def without(*path: str) -> dict:
    changed = record("data/train/bad.csv")
    node = changed
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]
    return changed


def replaced(path: str, value) -> dict:
    changed = record("data/train/bad.csv")
    *parents, last = path.split(".")
    node = changed
    for part in parents:
        node = node[part]
    node[last] = value
    return changed


MALFORMED = {
    "a string instead of a record": ("not a record", "record is a string, not an object"),
    "a list instead of a record": ([record("data/train/x.csv")], "record is a list, not an object"),
    "null instead of a record": (None, "record is null, not an object"),
    "a number instead of a record": (42, "record is a number, not an object"),
    "eventName null": (replaced("eventName", None), "eventName is null, not a string"),
    "eventName missing": (without("eventName"), "record lacks eventName"),
    "eventName a number": (replaced("eventName", 1), "eventName is a number, not a string"),
    "eventName empty": (replaced("eventName", ""), "eventName is empty"),
    "s3 missing": (without("s3"), "record lacks s3.bucket.name"),
    "s3 a string": (replaced("s3", "feature-store/data/train/x.csv"), "s3 is a string, not an object"),
    "bucket name missing": (without("s3", "bucket", "name"), "record lacks s3.bucket.name"),
    "bucket name a list": (replaced("s3.bucket.name", [BUCKET]), "s3.bucket.name is a list, not a string"),
    "object a list": (replaced("s3.object", []), "s3.object is a list, not an object"),
    "key missing": (with_object(key=None), "record lacks s3.object.key"),
    "key an integer": (with_object(key=12345), "s3.object.key is a number, not a string"),
    "key null": (replaced("s3.object.key", None), "s3.object.key is null, not a string"),
    "key empty": (with_object(key=""), "s3.object.key is empty"),
    "key not URL-encoded": (with_object(key="data/train/50%.csv"), "not URL-encoded as S3 encodes keys"),
    "key not UTF-8 once decoded": (with_object(key="data/train/%FF%FE.csv"), "decodes to bytes that are not UTF-8"),
    "size a string": (with_object(size="100"), "s3.object.size is a string, not a whole number of bytes"),
    "size a boolean": (with_object(size=True), "s3.object.size is a boolean, not a whole number of bytes"),
    "size negative": (with_object(size=-1), "s3.object.size is negative (-1)"),
    "size missing": (with_object(size=None), "record lacks s3.object.size"),
    "sequencer not hexadecimal": (with_object(sequencer="not-hex"), "s3.object.sequencer is not a hexadecimal"),
    "sequencer a number": (with_object(sequencer=55), "s3.object.sequencer is a number, not a string"),
    "versionId a number": (with_object(versionId=3), "s3.object.versionId is a number, not a string"),
    "nothing tells landings apart": (
        with_object(sequencer=None, eTag=None),
        "no s3.object.versionId, sequencer or eTag",
    ),
}


@pytest.mark.parametrize("bad, reason", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_record_is_rejected_and_the_good_one_still_starts_once(sfn, bad, reason, caplog):
    client, settings = sfn
    with caplog.at_level("INFO", logger=s3_landing.__name__):
        summary = handle_event(event(bad, good()), client, settings)
    (rejected,) = summary["rejected"]
    assert rejected["record"] == 0 and reason in rejected["reason"]
    (started,) = summary["started"]
    assert [e["name"] for e in executions(client, settings.training_arn)] == [started]
    assert started.startswith("train-good-file-") and not summary["failed"] and not summary["ignored"]
    lines = [json.loads(r.getMessage()) for r in caplog.records]
    (logged,) = [line for line in lines if line["action"] == "rejected"]
    assert logged["record"] == 0 and logged["reason"] == rejected["reason"] and "raw" in logged
    assert [r.levelname for r in caplog.records if "rejected" in r.getMessage()] == ["WARNING"]


def test_the_malformed_set_is_large_enough():
    assert len(MALFORMED) >= 15


@pytest.mark.parametrize(
    "bad, reason",
    [
        ([good()], "event is a list, not an S3 event object"),
        ("Records", "event is a string, not an S3 event object"),
        (None, "event is null, not an S3 event object"),
        ({"Records": {"0": good()}}, "Records is an object, not a list"),
    ],
)
def test_an_event_that_is_not_an_s3_event_is_rejected_without_raising(sfn, bad, reason):
    client, settings = sfn
    summary = handle_event(bad, client, settings)
    assert summary["rejected"] == [{"reason": reason}]
    assert executions(client, settings.training_arn) == []


def test_records_of_another_bucket_are_ignored_with_a_log_line(sfn, caplog):
    client, settings = sfn
    with caplog.at_level("INFO", logger=s3_landing.__name__):
        summary = handle_event(event(record("data/train/a.csv", bucket="someone-else"), good()), client, settings)
    assert summary["ignored"] == [
        {
            "record": 0,
            "bucket": "someone-else",
            "key": "data/train/a.csv",
            "reason": f"bucket someone-else is not the feature store ({BUCKET})",
        }
    ]
    assert len(summary["started"]) == 1 and len(executions(client, settings.training_arn)) == 1
    assert any(json.loads(r.getMessage()).get("bucket") == "someone-else" for r in caplog.records)


@pytest.mark.parametrize(
    "event_name", ["ObjectRemoved:Delete", "ObjectRestore:Completed", "LifecycleExpiration:Delete"]
)
def test_events_other_than_object_creation_are_ignored_even_without_a_size(sfn, event_name):
    client, settings = sfn
    other = with_object(size=None)
    other["eventName"] = event_name
    summary = handle_event(event(other, good()), client, settings)
    assert summary["ignored"][0]["reason"] == f"event {event_name} is not an object creation"
    assert not summary["rejected"] and len(summary["started"]) == 1


def test_unversioned_bucket_the_same_bytes_landed_twice_are_two_landings(sfn):
    """Same key, same bytes (so the same eTag), no version id: S3 gives each PUT its own sequencer."""
    client, settings = sfn
    first = record("data/train/monthly.csv", etag="9b2cf535f27731c974343645a3985328", sequencer="0055AED6DCD90281E5")
    again = record("data/train/monthly.csv", etag="9b2cf535f27731c974343645a3985328", sequencer="0055AED6DCD90281F0")
    (first_name,) = handle_event(event(first), client, settings)["started"]
    (second_name,) = handle_event(event(again), client, settings)["started"]
    handle_event(event(again), client, settings)  # a redelivery of the second landing
    redelivered = handle_event(event(first), client, settings)  # and of the first
    assert first_name != second_name
    assert sorted(e["name"] for e in executions(client, settings.training_arn)) == sorted([first_name, second_name])
    # StartExecution answers a running execution's own name and input with that execution, a closed one
    # with ExecutionAlreadyExists: either way nothing new starts.
    assert redelivered["started"] + redelivered["duplicate"] == [first_name]


def test_versioned_bucket_the_version_id_names_the_landing(sfn):
    client, settings = sfn
    version = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
    landed = record("data/train/a.csv", version=version, sequencer="0055AED6DCD90281E5")
    handle_event(event(landed), client, settings)
    handle_event(event(json.loads(json.dumps(landed))), client, settings)  # redelivered
    (execution,) = executions(client, settings.training_arn)
    payload = json.loads(client.describe_execution(executionArn=execution["executionArn"])["input"])
    assert payload["version_id"] == version and payload["sequencer"] == "0055AED6DCD90281E5"
    assert parse_record(landed).identity == f"{BUCKET}\0data/train/a.csv\0{version}"


def test_versioning_suspended_null_version_ids_fall_back_to_the_sequencer(sfn):
    """Objects written while versioning is suspended all get the version ID ``null``."""
    client, settings = sfn
    handle_event(event(record("data/train/a.csv", version="null", sequencer="0055AED6DCD90281E5")), client, settings)
    handle_event(event(record("data/train/a.csv", version="null", sequencer="0055AED6DCD90281F0")), client, settings)
    assert len(executions(client, settings.training_arn)) == 2


class Throttled:
    """The Step Functions client, except that StartExecution of the given names is throttled every time."""

    def __init__(self, client, names):
        self.client, self.names, self.calls = client, set(names), []

    def start_execution(self, **arguments):
        self.calls.append(arguments["name"])
        if arguments["name"] in self.names:
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}, "ResponseMetadata": {}},
                "StartExecution",
            )
        return self.client.start_execution(**arguments)


def test_throttled_beyond_the_retries_raises_after_the_others_and_a_redelivery_starts_only_the_missing_one(sfn):
    client, settings = sfn
    delivery = event(record("data/train/a.csv"), record("data/score/b.csv"), record("data/train/c.csv"))
    a_name = execution_name("train", parse_record(delivery["Records"][0]))
    throttled = Throttled(client, [a_name])
    delays = []
    with pytest.raises(LandingFailed) as failed:
        handle_event(delivery, throttled, settings, sleep=delays.append)
    summary = failed.value.summary
    assert [item["record"] for item in summary["failed"]] == [0]
    assert summary["failed"][0]["error"] == "ThrottlingException: Rate exceeded"
    assert "1 record(s) could not start an execution" in str(failed.value) and "(data/train/a.csv)" in str(failed.value)
    assert throttled.calls.count(a_name) == s3_landing.MAX_ATTEMPTS and len(delays) == s3_landing.MAX_ATTEMPTS - 1
    assert throttled.calls[-2:] != [a_name, a_name]  # the others were handled after it, not skipped
    started_first = set(summary["started"])
    assert len(started_first) == 2 and a_name not in started_first

    again = handle_event(delivery, client, settings)  # Lambda's retry, or a replay: throttling is over
    assert set(again["started"] + again["duplicate"]) == started_first | {a_name}
    names = {e["name"] for arn in (settings.training_arn, settings.scoring_arn) for e in executions(client, arn)}
    assert names == started_first | {a_name}


class Broken:
    def start_execution(self, **arguments):
        raise ConnectionError("could not connect to the endpoint")


def test_an_unexpected_error_fails_the_record_so_that_it_is_retried_not_lost(sfn):
    _, settings = sfn
    with pytest.raises(LandingFailed, match="ConnectionError: could not connect") as failed:
        handle_event(event(record("data/train/a.csv"), record("data/other/x.csv")), Broken(), settings)
    assert failed.value.summary["ignored"][0]["record"] == 1


def test_the_lambda_entry_point_fails_the_invocation_when_a_record_failed(monkeypatch, sfn):
    client, settings = sfn
    for name, value in {
        "TRAINING_STATE_MACHINE_ARN": settings.training_arn,
        "SCORING_STATE_MACHINE_ARN": settings.scoring_arn,
        "FEATURE_STORE_BUCKET": BUCKET,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(s3_landing, "_stepfunctions_client", lambda: Broken())
    with pytest.raises(LandingFailed):
        s3_landing.lambda_handler(event(record("data/train/a.csv")), None)
    monkeypatch.setattr(s3_landing, "_stepfunctions_client", lambda: client)
    assert len(s3_landing.lambda_handler(event(record("data/train/a.csv")), None)["started"]) == 1


# -- scheduled runs: EventBridge Scheduler invokes the handler with the event deploy writes ----------


@pytest.fixture
def store(sfn):
    """A versioned feature store in moto, listed by the handler through its own S3 client."""
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3_landing._s3_client.cache_clear()
    yield s3, *sfn
    s3_landing._s3_client.cache_clear()


def fired(kind="train", when="2030-01-06T03:00:00Z", schedule="p-retraining") -> dict:
    """What EventBridge Scheduler delivers: deploy's Input with ``<aws.scheduler.scheduled-time>`` replaced."""
    return s3_landing.scheduled_event(schedule, kind, when)


def test_a_scheduled_run_starts_the_latest_file_with_the_input_its_landing_would_get(store):
    s3, client, settings = store
    s3.put_object(Bucket=BUCKET, Key="data/train/older.csv", Body=b"a,b\n1,2\n")
    time.sleep(1.1)  # S3 lists LastModified to the second; the fire below is due years later
    latest = s3.put_object(Bucket=BUCKET, Key="data/train/newest.csv", Body=b"a,b\n1,2\n3,4\n")
    s3.put_object(Bucket=BUCKET, Key="data/train/_temporary.csv", Body=b"x\n")  # a landing would ignore it
    summary = handle_event(fired(), client, settings)
    (name,) = summary["started"]
    assert name.startswith("train-newest-")
    started = json.loads(
        client.describe_execution(executionArn=executions(client, settings.training_arn)[0]["executionArn"])["input"]
    )
    landing = s3_landing.execution_input(
        "train",
        s3_landing.LandedObject(
            BUCKET, "data/train/newest.csv", 12, latest["ETag"].strip('"'), latest["VersionId"], "", "", ""
        ),
    )
    assert set(started) == set(landing)
    for field in ("kind", "bucket", "key", "version_id", "size", "etag", "copy_source", "copy_source_if_match"):
        assert started[field] == landing[field], field
    assert started["event_time"] == "2030-01-06T03:00:00.000Z"  # the fire orders its model after the landing's
    assert started["job_stem"] != landing["job_stem"] and started["job_stem"].startswith("t")


def test_a_redelivered_fire_is_a_duplicate_and_the_next_fire_a_new_run_of_the_same_file(store):
    s3, client, settings = store
    s3.put_object(Bucket=BUCKET, Key="data/score/batch.csv", Body=b"id\n1\n")
    first = handle_event(fired("score", schedule="p-batch-scoring"), client, settings)
    again = handle_event(fired("score", schedule="p-batch-scoring"), client, settings)
    later = handle_event(fired("score", "2030-01-06T09:00:00Z", "p-batch-scoring"), client, settings)
    # a running execution's own name and input answer with that execution; a closed one is a duplicate
    assert again["started"] + again["duplicate"] == first["started"]
    assert later["started"] and later["started"] != first["started"]
    inputs = [
        json.loads(client.describe_execution(executionArn=item["executionArn"])["input"])
        for item in executions(client, settings.scoring_arn)
    ]
    assert len(inputs) == 2 and {i["version_id"] for i in inputs} == {inputs[0]["version_id"]}


def listed(*entries) -> list[dict]:
    """One ListObjectVersions page as boto3 returns it: ``("v"|"d", key, "HH:MM:SS", is_latest)``, newest first."""
    page = {"Versions": [], "DeleteMarkers": [], "Name": BUCKET, "Prefix": "data/train/", "IsTruncated": False}
    for index, (kind, key, clock, latest) in enumerate(entries):
        entry = {
            "Key": key,
            "VersionId": f"v{index}.{key}",
            "IsLatest": latest,
            "LastModified": datetime.fromisoformat(f"2030-01-06T{clock}+00:00"),
        }
        if kind == "v":
            entry |= {"ETag": f'"e{index}"', "Size": 10, "StorageClass": "STANDARD"}
        page["Versions" if kind == "v" else "DeleteMarkers"].append(entry)
    return [page]


def latest_at(pages, when: str):
    found = s3_landing.latest_version(
        pages, BUCKET, "data/train/", when, Settings("t", "s", feature_store_bucket=BUCKET)
    )
    return found and (found.key, found.version_id)


def test_the_latest_file_is_the_newest_version_before_the_scheduled_second_of_a_key_not_deleted_then():
    pages = listed(
        ("v", "data/train/a.csv", "02:00:00", True),
        ("v", "data/train/b.csv", "03:00:00", True),  # written in the scheduled second: after the fire
        ("d", "data/train/c.csv", "02:40:00", True),  # deleted before the fire
        ("v", "data/train/c.csv", "02:30:00", False),
        ("d", "data/train/d.csv", "02:50:00", False),  # deleted, then landed again in the same second
        ("v", "data/train/d.csv", "02:50:00", True),
        ("v", "data/train/e.csv", "02:55:00", False),  # its newer version came after the fire
        ("v", "data/train/e.csv", "03:10:00", True),
    )
    assert latest_at(pages, "2030-01-06T03:00:00.000Z") == ("data/train/e.csv", "v6.data/train/e.csv")
    assert latest_at(pages, "2030-01-06T02:52:00.000Z") == ("data/train/d.csv", "v5.data/train/d.csv")
    assert latest_at(pages, "2030-01-06T02:35:00.000Z") == ("data/train/c.csv", "v3.data/train/c.csv")
    assert latest_at(pages, "2030-01-06T02:00:00.000Z") is None  # nothing strictly before 02:00:00


def test_no_file_under_the_prefix_is_one_ignored_line_and_no_execution(store, caplog):
    s3, client, settings = store
    s3.put_object(Bucket=BUCKET, Key="data/score/only-scoring.csv", Body=b"id\n1\n")
    with caplog.at_level("INFO"):
        summary = handle_event(fired(), client, settings)
    assert not summary["started"] and executions(client, settings.training_arn) == []
    (ignored,) = summary["ignored"]
    assert ignored["reason"] == f"no file under s3://{BUCKET}/data/train/ to run"
    (line,) = [json.loads(r.getMessage()) for r in caplog.records if r.name == s3_landing.__name__]
    assert line["action"] == "ignored" and line["schedule"] == "p-retraining"


def test_a_malformed_scheduled_event_is_rejected_in_one_line(sfn):
    client, settings = sfn
    for change, reason in (
        ({"kind": "retrain"}, "kind is 'retrain', not one of train, score"),
        ({"scheduled_time": "<aws.scheduler.scheduled-time>"}, "is not an ISO 8601 time"),
        ({"scheduled_time": "2030-01-06T03:00:00"}, "has no time zone"),
        ({"schedule": 7}, "schedule is a number, not a string"),
    ):
        (rejected,) = handle_event({**fired(), **change}, client, settings)["rejected"]
        assert reason in rejected["reason"], change


def test_a_listing_s3_refuses_fails_the_invocation_so_lambda_retries_it(sfn):
    client, settings = sfn

    def refused(bucket, prefix):
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}, "List")

    with pytest.raises(LandingFailed, match="schedule p-retraining at 2030-01-06T03:00:00.000Z: SlowDown"):
        handle_event(fired(), client, settings, versions=refused)
