"""Landing Lambda: every file dropped in the feature store starts the right execution, once.

``data/train/<file>.csv`` starts the training state machine, ``data/score/<file>.csv`` the
scoring one. S3 delivers events at least once and in any order, so the execution name is
derived from the landing's identity (bucket, decoded key and the version id — else the
sequencer, else the eTag): a redelivered event maps to the same name and Step Functions refuses
a second execution (``ExecutionAlreadyExists`` is logged as a duplicate, not raised).

Each record is handled on its own, and each ends in one outcome, logged as one JSON line:

- ``started`` / ``duplicate``: its execution exists now (StartExecution answers a running
  execution's own name and input with that execution, a closed one with ``ExecutionAlreadyExists``);
- ``ignored``: not a landing to start (another bucket, not an object creation, a folder marker,
  outside both prefixes, a hidden file, another suffix, zero bytes);
- ``rejected``: malformed (a field missing or of the wrong type, a key that is not URL-encoded
  as S3 encodes keys). Retrying cannot mend it, so it is reported and logged, never raised;
- ``failed``: its execution could not be started for a reason that may pass (throttled beyond
  the retries here, an AWS error, anything unexpected). After every other record is handled,
  :class:`LandingFailed` names them: Lambda retries a failed asynchronous invocation twice,
  then sends the event, unchanged, to the dead-letter queue (AWS Lambda developer guide, "How
  Lambda handles errors and retries with asynchronous invocation" and "Dead-letter queues").
  The records that did start map to the same names on every retry or replay, so they are
  duplicates then: exactly one execution per landing still holds.

EventBridge Scheduler invokes the same function with a scheduled run (``scheduled_event``): the newest
object version under the training or scoring prefix, as of the scheduled time, starts an execution
with exactly the input its landing would get, named from its identity plus the schedule and scheduled
time (see "scheduled runs" below); no file there is ``ignored``.

Standard library and boto3 only: this module ships alone in the Lambda zip.

Environment: TRAINING_STATE_MACHINE_ARN, SCORING_STATE_MACHINE_ARN, FEATURE_STORE_BUCKET
(required); TRAINING_PREFIX (data/train/), SCORING_PREFIX (data/score/), ACCEPTED_SUFFIXES
(.csv), IGNORED_PREFIXES (mlops/: where the pipeline itself might write, to avoid trigger loops).
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import logging
import os
import random
import re
import time
import unicodedata
from dataclasses import dataclass, replace
from urllib.parse import quote, unquote_plus

from mlops_pipeline.layout import SCORING_PREFIX, TRAINING_PREFIX
from mlops_pipeline.naming import EXECUTION_NAME_MAX, KINDS, SCHEDULE_SOURCE, Workflow, job_stem

logger = logging.getLogger(__name__)

RETRYABLE_CODES = {
    "ThrottlingException",
    "TooManyRequestsException",
    "ServiceUnavailable",
    "InternalServerError",
    "InternalFailure",
    "RequestLimitExceeded",
}
MAX_ATTEMPTS = 6
BASE_DELAY_SECONDS = 0.2
HASH_LENGTH = 16
OUTCOMES = ("started", "duplicate", "ignored", "rejected", "failed")
REQUIRED_ENVIRONMENT = ("TRAINING_STATE_MACHINE_ARN", "SCORING_STATE_MACHINE_ARN", "FEATURE_STORE_BUCKET")
RAW_RECORD_LOG_CHARS = 2000  # a rejected record is logged with its content, cut to this length
#: S3 URL-encodes keys ("red flower.jpg" arrives as "red+flower.jpg", "%" as "%25"), so a "%"
#: without two hex digits after it means the key was not encoded by S3.
BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
HEX = re.compile(r"^[0-9A-Fa-f]+$")
#: S3 gives objects written while a bucket's versioning is suspended the version ID "null": it does
#: not tell two landings apart (S3 user guide, "Adding objects to versioning-suspended buckets").
NULL_VERSION = "null"


@dataclass(frozen=True)
class Settings:
    training_arn: str
    scoring_arn: str
    training_prefix: str = TRAINING_PREFIX
    scoring_prefix: str = SCORING_PREFIX
    accepted_suffixes: tuple[str, ...] = (".csv",)
    ignored_prefixes: tuple[str, ...] = ("mlops/",)
    #: Records of any other bucket are ignored; empty (only when built in code) accepts every bucket.
    feature_store_bucket: str = ""

    @classmethod
    def from_env(cls, env=None) -> "Settings":
        env = os.environ if env is None else env
        missing = [name for name in REQUIRED_ENVIRONMENT if not env.get(name)]
        if missing:
            raise RuntimeError(f"landing handler misconfigured: set {', '.join(missing)}")
        return cls(
            training_arn=env["TRAINING_STATE_MACHINE_ARN"],
            scoring_arn=env["SCORING_STATE_MACHINE_ARN"],
            training_prefix=env.get("TRAINING_PREFIX", TRAINING_PREFIX),
            scoring_prefix=env.get("SCORING_PREFIX", SCORING_PREFIX),
            accepted_suffixes=_split(env.get("ACCEPTED_SUFFIXES", ".csv")),
            ignored_prefixes=_split(env.get("IGNORED_PREFIXES", "mlops/")),
            feature_store_bucket=env["FEATURE_STORE_BUCKET"],
        )


class MalformedRecord(ValueError):
    """A record the handler cannot read; the message names the field and what is wrong with it."""


class LandingFailed(RuntimeError):
    """Records whose execution could not be started yet; raised after all others were handled so
    that Lambda retries the event (and finally dead-letters it). ``summary`` is the whole outcome."""

    def __init__(self, summary: dict[str, list]):
        self.summary = summary
        failed = summary["failed"]
        details = "; ".join(_describe_failure(item) for item in failed)
        super().__init__(f"{len(failed)} record(s) could not start an execution, retry the event: {details}")


@dataclass(frozen=True)
class LandedObject:
    bucket: str
    key: str
    size: int | None  # None: the record has no size (events other than object creations)
    etag: str
    version_id: str
    sequencer: str
    event_time: str
    event_name: str
    #: A scheduled run of this object: ``schedule\0<schedule name>\0<scheduled time>``; empty for a landing.
    trigger: str = ""

    @property
    def identity(self) -> str:
        """What makes this landing unique: a new landing gets a new execution, a redelivery the same one.

        Versioned bucket: the version id. Unversioned: the sequencer, which S3 sets anew for every
        PUT; the eTag comes last: a hash of the contents, it can repeat when the same bytes land again.
        A scheduled run adds its schedule and scheduled time: each fire is a new run of the same version,
        a redelivered fire the same run.
        """
        version = self.version_id or self.sequencer or self.etag
        landing = f"{self.bucket}\0{self.key}\0{version}"
        return f"{landing}\0{self.trigger}" if self.trigger else landing


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


TYPE_NAMES = {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}
EXPECTED = {str: "a string", int: "a whole number of bytes"}


def _type_name(value: object) -> str:
    return "null" if value is None else TYPE_NAMES.get(type(value), f"a {type(value).__name__}")


def _field(record: object, path: str, kind: type = str, required: bool = True):
    """``record[a][b]`` for ``path`` ``"a.b"``, checked to be a ``kind``; None when optional and absent."""
    node = record
    walked = []
    for part in path.split("."):
        if not isinstance(node, dict):
            raise MalformedRecord(f"{'.'.join(walked) or 'record'} is {_type_name(node)}, not an object")
        walked.append(part)
        if part not in node:
            if required:
                raise MalformedRecord(f"record lacks {path}")
            return None
        node = node[part]
    if node is None and not required:
        return None
    if not isinstance(node, kind) or isinstance(node, bool):
        raise MalformedRecord(f"{path} is {_type_name(node)}, not {EXPECTED[kind]}")
    return node


def decode_key(raw: str) -> str:
    """The object key: URL-decoded exactly once, as S3 encoded it."""
    if BAD_ESCAPE.search(raw):
        raise MalformedRecord("s3.object.key is not URL-encoded as S3 encodes keys (a '%' without two hex digits)")
    try:
        key = unquote_plus(raw, errors="strict")
    except UnicodeDecodeError:
        raise MalformedRecord("s3.object.key decodes to bytes that are not UTF-8") from None
    if not key:
        raise MalformedRecord("s3.object.key is empty")
    return key


def parse_record(record: object) -> LandedObject:
    """The fields the handler reads, each checked; anything else in the record is left alone."""
    event_name = _field(record, "eventName")
    bucket = _field(record, "s3.bucket.name")
    if not event_name or not bucket:
        raise MalformedRecord(f"{'eventName' if not event_name else 's3.bucket.name'} is empty")
    size = _field(record, "s3.object.size", int, required=False)
    if size is not None and size < 0:
        raise MalformedRecord(f"s3.object.size is negative ({size})")
    sequencer = _field(record, "s3.object.sequencer", required=False) or ""
    if sequencer and not HEX.match(sequencer):
        raise MalformedRecord("s3.object.sequencer is not a hexadecimal string")
    version_id = _field(record, "s3.object.versionId", required=False) or ""
    return LandedObject(
        bucket=bucket,
        key=decode_key(_field(record, "s3.object.key")),
        size=size,
        etag=_field(record, "s3.object.eTag", required=False) or "",
        version_id="" if version_id == NULL_VERSION else version_id,
        sequencer=sequencer,
        event_time=_field(record, "eventTime", required=False) or "",
        event_name=event_name,
    )


def ignore_reason(obj: LandedObject, settings: Settings) -> str | None:
    """Why this object must not start anything, or None when it should."""
    name = obj.key.rsplit("/", 1)[-1]
    if settings.feature_store_bucket and obj.bucket != settings.feature_store_bucket:
        return f"bucket {obj.bucket} is not the feature store ({settings.feature_store_bucket})"
    if not obj.event_name.startswith("ObjectCreated:"):
        return f"event {obj.event_name} is not an object creation"
    if obj.key.endswith("/"):
        return "folder marker"
    if any(obj.key.startswith(prefix) for prefix in settings.ignored_prefixes):
        return "written by the pipeline itself"
    if kind_of(obj.key, settings) is None:
        return f"outside {settings.training_prefix} and {settings.scoring_prefix}"
    if name.startswith((".", "_")):
        return "hidden or temporary file"
    if not name.lower().endswith(tuple(s.lower() for s in settings.accepted_suffixes)):
        return f"suffix not in {', '.join(settings.accepted_suffixes)}"
    if obj.size == 0:
        return "zero-byte object"
    return None


def creation_problem(obj: LandedObject) -> str | None:
    """What an object-creation record lacks to start an execution, or None."""
    if obj.size is None:
        return "record lacks s3.object.size"
    if not (obj.version_id or obj.sequencer or obj.etag):
        return "record has no s3.object.versionId, sequencer or eTag to tell this landing from others"
    return None


def kind_of(key: str, settings: Settings) -> str | None:
    if key.startswith(settings.training_prefix):
        return Workflow.TRAINING.kind
    if key.startswith(settings.scoring_prefix):
        return Workflow.SCORING.kind
    return None


def execution_name(kind: str, obj: LandedObject) -> str:
    """``train-<file slug>-<hash>``: readable, ``[A-Za-z0-9_-]``, at most 80 characters."""
    digest = hashlib.sha256(obj.identity.encode("utf-8")).hexdigest()[:HASH_LENGTH]
    stem = obj.key.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()  # données -> donnees
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_stem.lower()).strip("-") or "file"
    room = EXECUTION_NAME_MAX - len(kind) - len(digest) - 2
    return f"{kind}-{slug[:room].strip('-') or 'file'}-{digest}"


def execution_input(kind: str, obj: LandedObject) -> dict:
    """What the state machines start from; ``copy_source`` pins exactly this landing's bytes (its version,
    or, in a bucket without versioning, the bytes whose ETag the event names)."""
    return {
        "kind": kind,
        "bucket": obj.bucket,
        "key": obj.key,
        "version_id": obj.version_id,
        "size": obj.size,
        "etag": obj.etag,
        "sequencer": obj.sequencer,
        "event_time": obj.event_time,
        "job_stem": job_stem(kind, obj.identity),
        "copy_source": copy_source(obj),
        "copy_source_if_match": f'"{obj.etag}"' if obj.etag else "*",
        "landing_order": landing_order(obj),
    }


def copy_source(obj: LandedObject) -> str:
    """CopyObject's ``CopySource``: URL-encoded ``bucket/key``, with ``?versionId=`` when versioned."""
    source = quote(f"{obj.bucket}/{obj.key}", safe="/")
    return f"{source}?versionId={quote(obj.version_id, safe='')}" if obj.version_id else source


def landing_order(obj: LandedObject) -> str:
    """Sorts landings in time: the event time, then the sequencer (hex; left-padded, so longer is later)."""
    return f"{obj.event_time}/{obj.sequencer.upper().rjust(32, '0')}"


def error_summary(error: BaseException) -> str:
    """``Code: message`` of an AWS error (botocore's ClientError), else ``Type: message``; one line."""
    response = getattr(error, "response", None) or {}
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    message = response.get("Error", {}).get("Message") if code else str(error)
    return f"{code or type(error).__name__}: {' '.join(str(message or '').split())[:300]}"


def start_once(client, arn: str, name: str, payload: dict, sleep=time.sleep) -> str:
    """Start the execution; ``duplicate`` when it exists already; retry throttling and 5xx."""
    for attempt in range(MAX_ATTEMPTS):
        try:
            client.start_execution(stateMachineArn=arn, name=name, input=json.dumps(payload))
            return "started"
        except Exception as error:  # botocore's ClientError, without importing botocore types here
            response = getattr(error, "response", None) or {}
            code = response.get("Error", {}).get("Code", "")
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code == "ExecutionAlreadyExists":
                return "duplicate"
            if (code in RETRYABLE_CODES or status >= 500) and attempt < MAX_ATTEMPTS - 1:
                sleep(random.uniform(0, BASE_DELAY_SECONDS * 2**attempt))
                continue
            raise
    raise AssertionError("unreachable")


def handle_record(record: object, client, settings: Settings, sleep=time.sleep) -> dict:
    """One record → one outcome: started, duplicate, ignored, rejected (malformed) or failed (retry it)."""
    try:
        obj = parse_record(record)
    except MalformedRecord as error:
        return {"action": "rejected", "reason": str(error)}
    where = {"bucket": obj.bucket, "key": obj.key}
    reason = ignore_reason(obj, settings)
    if reason:
        return {"action": "ignored", **where, "reason": reason}
    problem = creation_problem(obj)
    if problem:
        return {"action": "rejected", **where, "reason": problem}
    kind = kind_of(obj.key, settings)
    name = execution_name(kind, obj)
    arn = settings.training_arn if kind == Workflow.TRAINING.kind else settings.scoring_arn
    started = {**where, "execution": name, "state_machine": arn}
    try:
        action = start_once(client, arn, name, execution_input(kind, obj), sleep)
    except Exception as error:
        return {"action": "failed", **started, "error": error_summary(error)}
    return {"action": action, **started}


def event_records(event: object) -> tuple[list, dict | None]:
    """The records of an event, or why there are none (an ignored test event or a rejected event)."""
    if not isinstance(event, dict):
        return [], {"action": "rejected", "reason": f"event is {_type_name(event)}, not an S3 event object"}
    if "Records" not in event:  # s3:TestEvent, sent when a notification is configured, has none
        return [], {"action": "ignored", "reason": f"no records ({event.get('Event', 'empty event')})"}
    records = event["Records"]
    if not isinstance(records, list):
        return [], {"action": "rejected", "reason": f"Records is {_type_name(records)}, not a list"}
    return records, None


def handle_event(event: object, client, settings: Settings, sleep=time.sleep, versions=None) -> dict[str, list]:
    """Every record of an S3 event, each on its own, or a scheduled run (``versions``: how to list the feature
    store's object versions, S3's ListObjectVersions by default); a summary by outcome.

    Raises :class:`LandingFailed` after handling all records when any of them failed.
    """
    summary: dict[str, list] = {action: [] for action in OUTCOMES}
    if is_scheduled(event):
        return _handle_scheduled(event, client, settings, sleep, versions or s3_object_versions, summary)
    records, problem = event_records(event)
    if problem:
        _log(problem, event)
        summary[problem["action"]].append({"reason": problem["reason"]})
    for index, record in enumerate(records):
        try:
            outcome = {"record": index, **handle_record(record, client, settings, sleep)}
        except Exception as error:  # a fault of this code must not cost the landing: retried, dead-lettered
            outcome = {"record": index, "action": "failed", "error": error_summary(error)}
        _log(outcome, record)
        action = outcome.pop("action")
        summary[action].append(outcome["execution"] if action in ("started", "duplicate") else outcome)
    if summary["failed"]:
        raise LandingFailed(summary)
    return summary


# -- scheduled runs -------------------------------------------------------------------------------
#
# EventBridge Scheduler invokes this function (asynchronously, as S3 does) with a small event that deploy
# writes into each schedule, ``<aws.scheduler.scheduled-time>`` replaced by the time the fire was due
# (EventBridge Scheduler User Guide, "Adding context attributes"). The run is of the newest object version
# under the prefix that a landing would start, as of that time: a redelivered or retried fire (Scheduler
# delivers at least once; Lambda retries a failed invocation twice) finds the same version, hence the same
# name, and is a duplicate; the next fire has another time, hence a new execution of the same file.


@dataclass(frozen=True)
class ScheduledRun:
    schedule: str
    kind: str
    scheduled_time: str  # as S3 writes event times: 2026-11-26T03:00:00.000Z


def is_scheduled(event: object) -> bool:
    return isinstance(event, dict) and event.get("source") == SCHEDULE_SOURCE


def scheduled_event(schedule: str, kind: str, scheduled_time: str) -> dict:
    """The event a schedule sends (deploy gives it ``<aws.scheduler.scheduled-time>``; the local session a time)."""
    return {"source": SCHEDULE_SOURCE, "schedule": schedule, "kind": kind, "scheduled_time": scheduled_time}


def parse_scheduled(event: dict) -> ScheduledRun:
    schedule, kind, when = (_field(event, name) for name in ("schedule", "kind", "scheduled_time"))
    if kind not in KINDS:
        raise MalformedRecord(f"kind is {kind!r}, not one of {', '.join(KINDS)}")
    try:
        moment = datetime.datetime.fromisoformat(when.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedRecord(f"scheduled_time {when!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise MalformedRecord(f"scheduled_time {when!r} has no time zone")
    return ScheduledRun(schedule, kind, s3_time(moment))


def s3_time(moment: datetime.datetime) -> str:
    """UTC with milliseconds and ``Z``, as S3 event times are written (and sort as text)."""
    utc = moment.astimezone(datetime.timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def s3_object_versions(bucket: str, prefix: str):
    """ListObjectVersions of the feature store under ``prefix``, page by page, as S3 answers it."""
    for page in _s3_client().get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        yield page


def latest_version(pages, bucket: str, prefix: str, before: str, settings: Settings) -> LandedObject | None:
    """The newest object version under ``prefix`` last modified before ``before`` that a landing would start,
    of a key not deleted by then; None when there is none.

    Listings give LastModified to the second, so "before" is by whole seconds: a version written in the
    scheduled second itself is not counted, whenever the fire (or its retry) lists. A key's state then is
    its newest version or delete marker (boto3 gives them as two lists, so within one second the entry S3
    marks IsLatest wins, then the delete marker); among keys written in the same second, the last key wins.
    """
    cutoff = before[: len("2026-01-01T00:00:00")]
    newest: dict[str, tuple[tuple, dict | None]] = {}
    for page in pages:
        entries = [(entry, entry) for entry in page.get("Versions", [])]
        entries += [(entry, None) for entry in page.get("DeleteMarkers", [])]
        for entry, version in entries:
            modified = _listing_time(entry["LastModified"])[: len(cutoff)]
            if modified >= cutoff:
                continue
            # Within one second, the key's newest entry (IsLatest) wins, then a delete marker over a version.
            order = (modified, bool(entry.get("IsLatest")), version is None)
            known = newest.get(entry["Key"])
            if known is None or order > known[0]:
                newest[entry["Key"]] = (order, version)
    candidates = []
    for key, (order, version) in newest.items():
        if version is None or not key.startswith(prefix):
            continue
        obj = _listed_object(bucket, version)
        if ignore_reason(obj, settings) is None:
            candidates.append((order[0], key, obj))
    return max(candidates)[2] if candidates else None


def _listing_time(value) -> str:
    """LastModified (a datetime from boto3, or text) in the sortable form of :func:`s3_time`."""
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return s3_time(value)


def _listed_object(bucket: str, version: dict) -> LandedObject:
    version_id = version.get("VersionId") or ""
    return LandedObject(
        bucket=bucket,
        key=version["Key"],
        size=int(version.get("Size", 0)),
        etag=str(version.get("ETag", "")).strip('"'),
        version_id="" if version_id == NULL_VERSION else version_id,
        sequencer="",
        event_time="",
        event_name="ObjectCreated:Put",
    )


def scheduled_object(run: ScheduledRun, latest: LandedObject) -> LandedObject:
    """The run's object: that version, triggered by this fire. Its event time is the scheduled time, so the
    model it approves is ordered after the landing it retrains (``landing_order``)."""
    trigger = f"schedule\0{run.schedule}\0{run.scheduled_time}"
    return replace(latest, event_time=run.scheduled_time, trigger=trigger)


def handle_scheduled(event: dict, client, settings: Settings, versions, sleep=time.sleep) -> dict:
    """One fire → one outcome: started, duplicate, ignored (no file under the prefix), rejected or failed."""
    try:
        run = parse_scheduled(event)
    except MalformedRecord as error:
        return {"action": "rejected", "reason": str(error)}
    prefix = settings.training_prefix if run.kind == Workflow.TRAINING.kind else settings.scoring_prefix
    bucket = settings.feature_store_bucket
    where = {"schedule": run.schedule, "scheduled_time": run.scheduled_time}
    try:
        latest = latest_version(versions(bucket, prefix), bucket, prefix, run.scheduled_time, settings)
    except Exception as error:  # S3 throttled or refused: retried by Lambda, dead-lettered at last
        return {"action": "failed", **where, "error": error_summary(error)}
    if latest is None:
        return {"action": "ignored", **where, "reason": f"no file under s3://{bucket}/{prefix} to run"}
    obj = scheduled_object(run, latest)
    name = execution_name(run.kind, obj)
    arn = settings.training_arn if run.kind == Workflow.TRAINING.kind else settings.scoring_arn
    started = {**where, "bucket": bucket, "key": obj.key, "execution": name, "state_machine": arn}
    try:
        action = start_once(client, arn, name, execution_input(run.kind, obj), sleep)
    except Exception as error:
        return {"action": "failed", **started, "error": error_summary(error)}
    return {"action": action, **started}


def _handle_scheduled(event, client, settings, sleep, versions, summary) -> dict[str, list]:
    outcome = handle_scheduled(event, client, settings, versions, sleep)
    _log(outcome, event)
    action = outcome.pop("action")
    summary[action].append(outcome["execution"] if action in ("started", "duplicate") else outcome)
    if summary["failed"]:
        raise LandingFailed(summary)
    return summary


def _log(outcome: dict, raw: object) -> None:
    """One JSON line per outcome; a rejected record's content comes along, since retrying cannot keep it."""
    line = dict(outcome)
    if outcome["action"] == "rejected":
        line["raw"] = _raw_text(raw)
    level = {"rejected": logging.WARNING, "failed": logging.ERROR}.get(outcome["action"], logging.INFO)
    logger.log(level, json.dumps(line, ensure_ascii=False, default=repr))


def _raw_text(raw: object) -> str:
    try:
        text = json.dumps(raw, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):  # keys JSON cannot hold, or a cycle
        text = repr(raw)
    return text[:RAW_RECORD_LOG_CHARS]


def _describe_failure(item: dict) -> str:
    if "schedule" in item:
        return f"schedule {item['schedule']} at {item['scheduled_time']}: {item['error']}"
    where = f" ({item['key']})" if "key" in item else ""
    return f"record {item.get('record', '?')}{where}: {item['error']}"


@functools.lru_cache(maxsize=1)
def _stepfunctions_client():
    import boto3

    return boto3.client("stepfunctions")


@functools.lru_cache(maxsize=1)
def _s3_client():
    import boto3

    return boto3.client("s3")


def lambda_handler(event, context):
    """The Lambda entry point: ``mlops_pipeline.handlers.s3_landing.lambda_handler``."""
    logging.getLogger().setLevel(logging.INFO)
    return handle_event(event, _stepfunctions_client(), Settings.from_env())
