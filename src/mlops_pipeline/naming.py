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
from enum import Enum

SAGEMAKER_NAME_MAX = 63  # training, transform and model names
TUNING_JOB_NAME_MAX = 32  # tuning jobs prefix their training jobs, so the limit is tighter
EXECUTION_NAME_MAX = 80  # Step Functions execution names
JOB_STEM_LENGTH = 12  # one letter for the kind plus 11 hex digits of the object identity
RETRY_COUNT_DIGITS = 2  # Retry MaxAttempts is at most 99
REDRIVE_COUNT_DIGITS = 2  # names stay valid for 99 redrives of one execution
#: Deploy publishes a version of each state machine and points this alias at it; the landing Lambda
#: (infra/terraform) starts executions through it.
STATE_MACHINE_ALIAS = "live"


class Workflow(str, Enum):
    """The two state machines of a pipeline and the one word for each that landings and names use.

    ``Workflow.TRAINING`` is the string ``"training"`` (definition files, records); ``.kind`` is ``"train"``
    (the landing prefix's meaning, execution names ``train-...``, job stems ``t...``).
    """

    TRAINING = ("training", "train")
    SCORING = ("scoring", "score")

    def __new__(cls, workflow: str, kind: str) -> "Workflow":
        member = str.__new__(cls, workflow)
        member._value_ = workflow
        member.kind = kind
        return member

    def __str__(self) -> str:
        return self.value

    def state_machine_name(self, pipeline: str) -> str:
        """``<pipeline>-training`` or ``<pipeline>-scoring``."""
        return f"{pipeline}-{self.value}"

    @classmethod
    def of_kind(cls, kind: str) -> "Workflow":
        for workflow in cls:
            if workflow.kind == kind:
                return workflow
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")

    @classmethod
    def of_execution(cls, execution_name: str) -> "Workflow":
        """The landing handler names executions ``<kind>-<file>-<hash>``."""
        return cls.of_kind(execution_name.split("-", 1)[0])


KINDS = tuple(workflow.kind for workflow in Workflow)


def max_pipeline_name_length() -> int:
    """Longest pipeline name that still fits ``<name>-<stem>-<redrive>-<retry>`` in a tuning job name."""
    return TUNING_JOB_NAME_MAX - JOB_STEM_LENGTH - REDRIVE_COUNT_DIGITS - RETRY_COUNT_DIGITS - 3


def job_stem(kind: str, identity: str) -> str:
    """Short, lowercase, deterministic stem for the jobs of one landed object.

    ``identity`` is whatever makes the object version unique (bucket, key, version id).
    Lowercase because tuning job names are case-insensitive.
    """
    Workflow.of_kind(kind)
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()
    return kind[0] + digest[: JOB_STEM_LENGTH - 1]


#: What each workflow's schedule does: ``<pipeline>-retraining`` starts training, ``<pipeline>-batch-scoring`` scoring.
SCHEDULE_PURPOSES = {"train": "retraining", "score": "batch-scoring"}
#: Where a scheduled run's event says it comes from (the landing handler tells it from an S3 event by this).
SCHEDULE_SOURCE = "mlops-pipeline.schedule"


def schedule_name(pipeline: str, kind: str) -> str:
    """The EventBridge Scheduler schedule (and local schedule) that starts ``kind`` runs of a pipeline."""
    return f"{pipeline}-{SCHEDULE_PURPOSES[Workflow.of_kind(kind).kind]}"


def model_package_group_name(pipeline: str) -> str:
    """The pipeline's SageMaker Model Package Group (the model registry): ``<pipeline>-models``; 1-63 characters
    of ``[a-zA-Z0-9](-*[a-zA-Z0-9])*`` (botocore: CreateModelPackageGroupInput), which pipeline names satisfy."""
    return f"{pipeline}-models"


def state_machine_name(pipeline: str, kind: str) -> str:
    """Name of a pipeline's training or scoring state machine, by landing kind."""
    return Workflow.of_kind(kind).state_machine_name(pipeline)
