"""Names of jobs, models and executions, and the AWS limits they must respect.

Standard library only: the landing handler imports this module inside Lambda.

Every SageMaker name a workflow creates is ``<pipeline>-<job stem>-<redrive count>-<retry count>``:
the pipeline name is fixed at deploy time (IAM policies scope job names to it), the job
stem comes from the execution input (derived from the landed object by the handler),
``$$.Execution.RedriveCount`` keeps a redriven execution from colliding with the jobs of its
failed run and ``$$.State.RetryCount`` keeps a retried state from colliding with its own
earlier attempt (SageMaker answers ``ResourceInUse`` to a name used before).
"""

from __future__ import annotations

import hashlib

SAGEMAKER_NAME_MAX = 63  # training, transform and model names
TUNING_JOB_NAME_MAX = 32  # tuning jobs prefix their training jobs, so the limit is tighter
EXECUTION_NAME_MAX = 80  # Step Functions execution names
JOB_STEM_LENGTH = 12  # one letter for the kind plus 11 hex digits of the object identity
RETRY_COUNT_DIGITS = 2  # Retry MaxAttempts is at most 99
REDRIVE_COUNT_DIGITS = 2  # names stay valid for 99 redrives of one execution

KINDS = ("train", "score")


def max_pipeline_name_length() -> int:
    """Longest pipeline name that still fits ``<name>-<stem>-<redrive>-<retry>`` in a tuning job name."""
    return TUNING_JOB_NAME_MAX - JOB_STEM_LENGTH - REDRIVE_COUNT_DIGITS - RETRY_COUNT_DIGITS - 3


def job_stem(kind: str, identity: str) -> str:
    """Short, lowercase, deterministic stem for the jobs of one landed object.

    ``identity`` is whatever makes the object version unique (bucket, key, version id).
    Lowercase because tuning job names are case-insensitive.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()
    return kind[0] + digest[: JOB_STEM_LENGTH - 1]


def state_machine_name(pipeline: str, kind: str) -> str:
    """Name of a pipeline's training or scoring state machine."""
    workflow = {"train": "training", "score": "scoring"}[kind]
    return f"{pipeline}-{workflow}"
