"""The Glue transform state both workflows start with."""

from __future__ import annotations

from mlops_pipeline.aws_errors import GLUE_JOB_TRANSIENT_ERRORS
from mlops_pipeline.builders.common import (
    landed_object_uri,
    pinned_object_uri,
    s3_prefix,
    service_arn,
    transient_retry,
)
from mlops_pipeline.builders.sdk import Task
from mlops_pipeline.config import PipelineConfig
from mlops_pipeline.layout import DATA_CHECKS_MODULE, GLUE_SCRIPTS_PREFIX
from mlops_pipeline.naming import Workflow
from mlops_pipeline.target import Target

#: The state waits this much longer than the run's own Timeout, so a run that is too slow ends as Glue
#: ends it (JobRunState TIMEOUT, with its log) rather than by the state's timeout.
GLUE_TIMEOUT_MARGIN_SECONDS = 300


def glue_transform(
    state_id: str, config: PipelineConfig, target: Target, workflow: Workflow, extra: dict | None = None
) -> Task:
    """``glue:startJobRun.sync`` of the pipeline's transform on the landed object.

    The extract goes to ``s3://<extracts>/<pipeline>/<job stem>/`` (``train/``, ``validation/``
    and ``schema.json`` for training, ``score/`` for scoring). In module mode the transform module is
    shipped with ``--extra-py-files`` to the job's entry point; in script mode ``--scriptLocation`` runs
    the user's own Glue script instead, so one Glue job serves every pipeline either way.
    """
    transform = config.transform
    scripts = f"s3://{target.source_repository_bucket}/{GLUE_SCRIPTS_PREFIX}"
    code = (
        {
            "--TRANSFORM_MODULE": transform.module,
            "--extra-py-files": f"{scripts}{transform.script},{scripts}{DATA_CHECKS_MODULE}",
        }
        if transform.mode == "module"
        else {"--scriptLocation": f"{scripts}{transform.script}"}
    )
    arguments = {
        "--KIND": workflow.kind,
        "--S3_SOURCE.$": pinned_object_uri(config, target),
        "--LANDED_URI.$": landed_object_uri(),
        "--S3_DEST.$": s3_prefix(target.extracts_bucket, config),
        "--LABEL": config.data.label,
        "--ID_COLUMN": config.data.id_column,
        "--VALIDATION_FRACTION": repr(transform.validation_fraction),
        "--SEED": str(transform.seed),
        "--DATA_CHECKS": config.data.checks_json(config.inference.max_payload_mb),
        **code,
        **{f"--{key}": value for key, value in transform.arguments.items()},
        **(extra or {}),
    }
    return Task(
        state_id,
        resource=service_arn(target, "glue", "startJobRun", sync=True),
        comment=f"Glue transform ({transform.script}) of the landed {workflow.kind} file into the extracts store.",
        parameters={"JobName": target.glue_job_name, "Arguments": arguments, "Timeout": transform.timeout_minutes},
        result_selector={"JobRunId.$": "$.Id", "JobRunState.$": "$.JobRunState"},
        result_path="$.transform",
        timeout_seconds=transform.timeout_minutes * 60 + GLUE_TIMEOUT_MARGIN_SECONDS,
        retry=[transient_retry(config.retry, GLUE_JOB_TRANSIENT_ERRORS)],  # bad input fails the same way twice
    )
