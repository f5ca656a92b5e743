"""Landing Lambda: every file dropped in the feature store starts the right execution, once.

``data/train/<file>.csv`` starts the training state machine, ``data/score/<file>.csv`` the
scoring one. S3 delivers events at least once and in any order, so the execution name is
derived from the object's identity (bucket, decoded key, version id — else eTag, else
sequencer): a redelivered event maps to the same name and Step Functions refuses a second
execution (``ExecutionAlreadyExists`` is logged as a duplicate, not raised).

Standard library and boto3 only: this module ships alone in the Lambda zip.

Environment: TRAINING_STATE_MACHINE_ARN, SCORING_STATE_MACHINE_ARN (required);
TRAINING_PREFIX (data/train/), SCORING_PREFIX (data/score/), ACCEPTED_SUFFIXES (.csv),
IGNORED_PREFIXES (mlops/: where the pipeline itself might write, to avoid trigger loops).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import random
import re
import time
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote, unquote_plus

from mlops_pipeline.layout import SCORING_PREFIX, TRAINING_PREFIX
from mlops_pipeline.naming import EXECUTION_NAME_MAX, Workflow, job_stem

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


@dataclass(frozen=True)
class Settings:
    training_arn: str
    scoring_arn: str
    training_prefix: str = TRAINING_PREFIX
    scoring_prefix: str = SCORING_PREFIX
    accepted_suffixes: tuple[str, ...] = (".csv",)
    ignored_prefixes: tuple[str, ...] = ("mlops/",)

    @classmethod
    def from_env(cls, env=None) -> "Settings":
        env = os.environ if env is None else env
        missing = [n for n in ("TRAINING_STATE_MACHINE_ARN", "SCORING_STATE_MACHINE_ARN") if not env.get(n)]
        if missing:
            raise RuntimeError(f"landing handler misconfigured: set {', '.join(missing)}")
        return cls(
            training_arn=env["TRAINING_STATE_MACHINE_ARN"],
            scoring_arn=env["SCORING_STATE_MACHINE_ARN"],
            training_prefix=env.get("TRAINING_PREFIX", TRAINING_PREFIX),
            scoring_prefix=env.get("SCORING_PREFIX", SCORING_PREFIX),
            accepted_suffixes=_split(env.get("ACCEPTED_SUFFIXES", ".csv")),
            ignored_prefixes=_split(env.get("IGNORED_PREFIXES", "mlops/")),
        )


class MalformedRecord(ValueError):
    """A record without a field the handler needs; the message names the field."""


@dataclass(frozen=True)
class LandedObject:
    bucket: str
    key: str
    size: int
    etag: str
    version_id: str
    sequencer: str
    event_time: str
    event_name: str

    @property
    def identity(self) -> str:
        """What makes this object version unique: a new version gets a new execution."""
        version = self.version_id or self.etag or self.sequencer
        return f"{self.bucket}\0{self.key}\0{version}"


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def parse_record(record: dict) -> LandedObject:
    def field(path: str):
        node = record
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                raise MalformedRecord(f"record lacks {path}")
            node = node[part]
        return node

    obj = field("s3.object")
    return LandedObject(
        bucket=field("s3.bucket.name"),
        key=unquote_plus(field("s3.object.key")),  # keys arrive URL-encoded: decode exactly once
        size=int(obj.get("size", 0) or 0),
        etag=str(obj.get("eTag", "") or ""),
        version_id=str(obj.get("versionId", "") or ""),
        sequencer=str(obj.get("sequencer", "") or ""),
        event_time=str(record.get("eventTime", "")),
        event_name=field("eventName"),
    )


def ignore_reason(obj: LandedObject, settings: Settings) -> str | None:
    """Why this object must not start anything, or None when it should."""
    name = obj.key.rsplit("/", 1)[-1]
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


def handle_record(record: dict, client, settings: Settings, sleep=time.sleep) -> dict:
    """One record → one structured outcome (started, duplicate, ignored or rejected)."""
    try:
        obj = parse_record(record)
    except (MalformedRecord, ValueError, TypeError) as error:
        return {"action": "rejected", "reason": str(error)}
    reason = ignore_reason(obj, settings)
    if reason:
        return {"action": "ignored", "bucket": obj.bucket, "key": obj.key, "reason": reason}
    kind = kind_of(obj.key, settings)
    name = execution_name(kind, obj)
    arn = settings.training_arn if kind == Workflow.TRAINING.kind else settings.scoring_arn
    action = start_once(client, arn, name, execution_input(kind, obj), sleep)
    return {"action": action, "bucket": obj.bucket, "key": obj.key, "execution": name, "state_machine": arn}


def handle_event(event: dict, client, settings: Settings, sleep=time.sleep) -> dict:
    """Every record of an S3 event (an ``s3:TestEvent`` has none); a summary by outcome."""
    summary: dict[str, list] = {"started": [], "duplicate": [], "ignored": [], "rejected": []}
    records = event.get("Records") if isinstance(event, dict) else None
    if not records:
        logger.info(json.dumps({"action": "ignored", "reason": f"no records ({event.get('Event', 'empty event')})"}))
        return summary
    for record in records:
        outcome = handle_record(record, client, settings, sleep)
        logger.info(json.dumps(outcome, ensure_ascii=False))
        action = outcome["action"]
        summary[action].append(outcome.get("execution") or {k: v for k, v in outcome.items() if k != "action"})
    return summary


@functools.lru_cache(maxsize=1)
def _stepfunctions_client():
    import boto3

    return boto3.client("stepfunctions")


def lambda_handler(event, context):
    """The Lambda entry point: ``mlops_pipeline.handlers.s3_landing.lambda_handler``."""
    logging.getLogger().setLevel(logging.INFO)
    return handle_event(event, _stepfunctions_client(), Settings.from_env())
