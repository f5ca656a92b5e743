"""Which local module serves which Task resource: the routing table the engine's dispatcher uses."""

from __future__ import annotations

from typing import Any, Callable

from mlops_pipeline.local import (
    glue_crawler,
    glue_job,
    s3_api,
    sagemaker_model,
    sagemaker_training,
    sagemaker_transform,
    sagemaker_tuning,
    sfn_api,
)
from mlops_pipeline.local.services import LocalServices
from mlops_pipeline.local.tasks import TaskControl, TaskFailure

Integration = Callable[[LocalServices, dict, TaskControl], Any]

#: Resource (the part after ``arn:aws:states:::``) -> the function that serves it.
INTEGRATIONS: dict[str, Integration] = {
    "glue:startJobRun.sync": glue_job.start_job_run_sync,
    "sagemaker:createTrainingJob.sync": sagemaker_training.create_training_job_sync,
    "sagemaker:createHyperParameterTuningJob.sync": sagemaker_tuning.create_tuning_job_sync,
    "sagemaker:createModel": sagemaker_model.create_model,
    "sagemaker:createTransformJob.sync": sagemaker_transform.create_transform_job_sync,
    "aws-sdk:sagemaker:describeTrainingJob": sagemaker_training.describe_training_job,
    "aws-sdk:sagemaker:describeHyperParameterTuningJob": sagemaker_tuning.describe_tuning_job,
    "aws-sdk:sagemaker:describeModel": sagemaker_model.describe_model,
    "aws-sdk:sagemaker:describeTransformJob": sagemaker_transform.describe_transform_job,
    "aws-sdk:s3:putObject": s3_api.put_object,
    "aws-sdk:s3:getObject": s3_api.get_object,
    "aws-sdk:s3:copyObject": s3_api.copy_object,
    "aws-sdk:s3:headObject": s3_api.head_object,
    "aws-sdk:sfn:listExecutions": sfn_api.list_executions,
    "aws-sdk:glue:startCrawler": glue_crawler.start_crawler,
}


def supports(resource: str) -> bool:
    return resource in INTEGRATIONS


def dispatcher(services: LocalServices) -> Callable[[str, dict, TaskControl], Any]:
    """The engine's callback: route one Task to its integration; a missing parameter is a clear error."""

    def dispatch(resource: str, parameters: dict, control: TaskControl) -> Any:
        integration = INTEGRATIONS.get(resource)
        if integration is None:
            raise TaskFailure("States.Runtime", f"the local runtime cannot serve {resource}")
        try:
            return integration(services, parameters, control)
        except KeyError as missing:
            raise TaskFailure("States.Runtime", f"{resource}: missing parameter {missing}") from None

    return dispatch
