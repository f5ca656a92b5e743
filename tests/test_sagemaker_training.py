"""createTrainingJob runs the container's train program with the SageMaker layout."""

from __future__ import annotations

import json
import tarfile

import pytest

from conftest import dispatch, running_control, stage_extract, training_request
from mlops_pipeline.local.integrations.sagemaker_training import (
    create_training_job_sync,
    describe_training_job,
    parse_metrics,
)
from mlops_pipeline.local.tasks import TaskFailure


def test_a_training_job_packs_its_model_and_reports_metrics_like_sagemaker(services, demo_extract):
    prefix = stage_extract(services, demo_extract)
    job = create_training_job_sync(services, training_request(prefix, max_depth="3"), running_control())
    assert job["TrainingJobStatus"] == "Completed" and "Local" not in job
    assert {m["MetricName"] for m in job["FinalMetricDataList"]} == {"roc_auc", "logloss"}
    artifact = job["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifact == "s3://attrition-model/attrition/t1/job-1/output/model.tar.gz"
    with tarfile.open(services.workspace.path_of(artifact)) as archive:
        assert {"xgboost-model.json", "features.json"} <= set(archive.getnames())
    assert describe_training_job(services, {"TrainingJobName": "job-1"}, running_control()) == job
    assert (services.logs_root / "exec-1" / "logs" / "training-jobs" / "job-1.log").read_text().count("roc_auc") >= 1


def test_a_failed_job_reports_the_programs_failure_file(services, demo_extract):
    prefix = stage_extract(services, demo_extract)
    with pytest.raises(TaskFailure) as failure:
        create_training_job_sync(services, training_request(prefix, max_depth="many"), running_control())
    assert failure.value.error == "States.TaskFailed"
    described = json.loads(failure.value.cause)
    assert described["TrainingJobStatus"] == "Failed" and "max_depth" in described["FailureReason"]


def test_a_name_used_before_is_refused_with_resource_in_use(services, demo_extract):
    prefix = stage_extract(services, demo_extract)
    create_training_job_sync(services, training_request(prefix), running_control())
    with pytest.raises(TaskFailure, match="already exists") as failure:
        dispatch(services, "sagemaker:createTrainingJob.sync", training_request(prefix))
    assert failure.value.error == "SageMaker.ResourceInUseException"


def test_an_image_without_a_local_container_is_a_clear_error(services, demo_extract):
    from mlops_pipeline.local.integrations import default_table

    request = training_request(stage_extract(services, demo_extract))
    request["AlgorithmSpecification"]["TrainingImage"] = "123456789012.dkr.ecr.us-east-1.amazonaws.com/lightgbm:2"
    with pytest.raises(TaskFailure, match=r"image .*lightgbm:2: no local container .*containers/lightgbm.*byo-xgboost"):
        default_table().dispatch(services, "sagemaker:createTrainingJob.sync", request, running_control())
    assert services.records.get("training-jobs", "job-1") is None  # refused before the job exists, as SageMaker does


def test_an_empty_channel_is_a_clear_error(services):
    with pytest.raises(
        TaskFailure, match="channel train: no objects under s3://attrition-extracts/nothing/train/"
    ) as failure:
        dispatch(services, "sagemaker:createTrainingJob.sync", training_request("s3://attrition-extracts/nothing/"))
    assert failure.value.error == "SageMaker.AmazonSageMakerException"  # a ValidationException, unmodelled


def test_metrics_follow_sagemakers_rule_last_match_wins():
    log = "roc_auc: 0.5\nepoch 2\nroc_auc: 0.75\nlogloss: nan-ish\n"
    metrics = parse_metrics(
        log, [{"Name": "roc_auc", "Regex": r"roc_auc: ([0-9.]+)"}, {"Name": "logloss", "Regex": r"logloss: ([0-9.]+)"}]
    )
    assert [(m["MetricName"], m["Value"]) for m in metrics] == [("roc_auc", 0.75)]
