"""The report of an execution on AWS: Step Functions and SageMaker answered by botocore's Stubber (moto has
no ListTrainingJobsForHyperParameterTuningJob and only a canned GetExecutionHistory), with responses that
the Stubber checks against botocore's own output shapes; S3 (the data report, the predictions) is moto."""

from __future__ import annotations

import datetime
import json

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from mlops_pipeline.errors import PipelineError
from mlops_pipeline.report.aws_source import AwsClients, aws_report, execution_arn
from mlops_pipeline.target import local_target

TARGET = local_target("attr")
NAME = "train-employees-0123456789abcdef"
ARN = f"arn:aws:states:us-east-1:123456789012:execution:attr-training:{NAME}"
T0 = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.timezone.utc)
TUNING_JOB = "attr-t0123456789a-0-0"
DEFINITION = {
    "StartAt": "TuneHyperparameters",
    "States": {
        "TuneHyperparameters": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sagemaker:createHyperParameterTuningJob.sync",
            "Next": "ModelApproved",
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "TuningFailed"}],
        },
        "TuningFailed": {"Type": "Fail"},
        "ModelApproved": {"Type": "Succeed"},
    },
}


def at(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


def history_pages() -> list[dict]:
    events = [
        {
            "timestamp": at(0),
            "type": "ExecutionStarted",
            "id": 1,
            "previousEventId": 0,
            "executionStartedEventDetails": {"input": "{}", "roleArn": "arn:aws:iam::123456789012:role/attr-states"},
        },
        {
            "timestamp": at(0),
            "type": "TaskStateEntered",
            "id": 2,
            "previousEventId": 1,
            "stateEnteredEventDetails": {"name": "TuneHyperparameters", "input": "{}"},
        },
        {
            "timestamp": at(0.1),
            "type": "TaskScheduled",
            "id": 3,
            "previousEventId": 2,
            "taskScheduledEventDetails": {
                "resourceType": "sagemaker",
                "resource": "createHyperParameterTuningJob.sync",
                "region": "us-east-1",
                "parameters": json.dumps({"HyperParameterTuningJobName": TUNING_JOB}),
            },
        },
        {
            "timestamp": at(600),
            "type": "TaskSucceeded",
            "id": 4,
            "previousEventId": 3,
            "taskSucceededEventDetails": {
                "resourceType": "sagemaker",
                "resource": "createHyperParameterTuningJob.sync",
                "output": "{}",
            },
        },
        {
            "timestamp": at(600),
            "type": "TaskStateExited",
            "id": 5,
            "previousEventId": 4,
            "stateExitedEventDetails": {"name": "TuneHyperparameters", "output": "{}"},
        },
        {
            "timestamp": at(600),
            "type": "SucceedStateEntered",
            "id": 6,
            "previousEventId": 5,
            "stateEnteredEventDetails": {"name": "ModelApproved", "input": "{}"},
        },
        {
            "timestamp": at(600),
            "type": "SucceedStateExited",
            "id": 7,
            "previousEventId": 6,
            "stateExitedEventDetails": {"name": "ModelApproved", "output": "{}"},
        },
        {
            "timestamp": at(600),
            "type": "ExecutionSucceeded",
            "id": 8,
            "previousEventId": 7,
            "executionSucceededEventDetails": {"output": "{}"},
        },
    ]
    return [{"events": events[:3], "nextToken": "page-2"}, {"events": events[3:]}]


def describe_execution(output: dict) -> dict:
    landed = {"bucket": "attr-feature-store", "key": "data/train/employees.csv", "job_stem": "t0123456789a"}
    return {
        "executionArn": ARN,
        "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:attr-training",
        "stateMachineAliasArn": "arn:aws:states:us-east-1:123456789012:stateMachine:attr-training:live",
        "name": NAME,
        "status": "SUCCEEDED",
        "startDate": at(0),
        "stopDate": at(600),
        "input": json.dumps(landed),
        "output": json.dumps(output),
    }


def trial(number: int, value: float, depth: str) -> dict:
    name = f"{TUNING_JOB}-00{number}-abcdef0{number}"
    return {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
        "TuningJobName": TUNING_JOB,
        "CreationTime": at(number),
        "TrainingStartTime": at(10 * number),
        "TrainingEndTime": at(10 * number + 240),
        "TrainingJobStatus": "Completed",
        "TunedHyperParameters": {"max_depth": depth},
        "FinalHyperParameterTuningJobObjectiveMetric": {"MetricName": "roc_auc", "Value": value},
        "ObjectiveStatus": "Succeeded",
    }


def describe_tuning(best: dict) -> dict:
    return {
        "HyperParameterTuningJobName": TUNING_JOB,
        "HyperParameterTuningJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/"
        f"{TUNING_JOB}",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "roc_auc"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 1},
        },
        "HyperParameterTuningJobStatus": "Completed",
        "CreationTime": at(0),
        "TrainingJobStatusCounters": {"Completed": 3},
        "ObjectiveStatusCounters": {"Succeeded": 3},
        "BestTrainingJob": best,
    }


def describe_training_job(best: dict) -> dict:
    return {
        "TrainingJobName": best["TrainingJobName"],
        "TrainingJobArn": best["TrainingJobArn"],
        "ModelArtifacts": {"S3ModelArtifacts": "s3://attr-model/attr/t0123456789a/x/output/model.tar.gz"},
        "TrainingJobStatus": "Completed",
        "SecondaryStatus": "Completed",
        "AlgorithmSpecification": {"TrainingInputMode": "File", "TrainingImage": "1.dkr.ecr/byo-xgboost:1.0"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "CreationTime": at(20),
        "FinalMetricDataList": [
            {"MetricName": "roc_auc", "Value": 0.83, "Timestamp": at(260)},
            {"MetricName": "accuracy", "Value": 0.88, "Timestamp": at(260)},
        ],
    }


@pytest.fixture
def s3(aws_credentials):
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        for bucket in ("attr-extracts", "attr-output"):
            client.create_bucket(Bucket=bucket)
        yield client


def stubbed(s3):
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    return AwsClients(sfn, sagemaker, s3), Stubber(sfn), Stubber(sagemaker)


def test_a_training_execution_from_step_functions_sagemaker_and_s3(s3):
    trials = [trial(2, 0.83, "4"), trial(1, 0.79, "6"), trial(3, 0.81, "<i>3</i>")]
    best = {
        key: trials[0][key]
        for key in (
            "TrainingJobName",
            "TrainingJobArn",
            "CreationTime",
            "TrainingJobStatus",
            "TunedHyperParameters",
            "FinalHyperParameterTuningJobObjectiveMetric",
        )
    }
    gate = {
        "metric": "roc_auc",
        "comparison": ">=",
        "threshold": 0.7,
        "value": 0.83,
        "baseline": 0.5,
        "approved_model_value": 0.8,
    }
    s3.put_object(
        Bucket="attr-extracts",
        Key="attr/t0123456789a/report.json",
        Body=json.dumps({"warnings": ["column 'bonus' is empty"], "baseline": {"roc_auc": 0.5, "accuracy": 0.84}}),
    )
    clients, sfn, sagemaker = stubbed(s3)
    arn = {"executionArn": ARN}
    sfn.add_response("describe_execution", describe_execution({"model_name": "attr-m", "gate": gate}), arn)
    sfn.add_response(
        "describe_state_machine_for_execution",
        {
            "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:attr-training",
            "name": "attr-training",
            "definition": json.dumps(DEFINITION),
            "roleArn": "arn:aws:iam::123456789012:role/attr-states",
            "updateDate": at(-60),
        },
        arn,
    )
    first, second = history_pages()
    sfn.add_response("get_execution_history", first, {**arn, "includeExecutionData": True})
    sfn.add_response("get_execution_history", second, {**arn, "includeExecutionData": True, "nextToken": "page-2"})
    sagemaker.add_response(
        "describe_hyper_parameter_tuning_job", describe_tuning(best), {"HyperParameterTuningJobName": TUNING_JOB}
    )
    sagemaker.add_response(
        "list_training_jobs_for_hyper_parameter_tuning_job",
        {"TrainingJobSummaries": trials[:2], "NextToken": "more"},
        {"HyperParameterTuningJobName": TUNING_JOB},
    )
    sagemaker.add_response(
        "list_training_jobs_for_hyper_parameter_tuning_job",
        {"TrainingJobSummaries": trials[2:]},
        {"HyperParameterTuningJobName": TUNING_JOB, "NextToken": "more"},
    )
    sagemaker.add_response(
        "describe_training_job", describe_training_job(best), {"TrainingJobName": best["TrainingJobName"]}
    )
    with sfn, sagemaker:
        report = aws_report(clients, TARGET, NAME)
        sfn.assert_no_pending_responses()
        sagemaker.assert_no_pending_responses()

    assert report.workflow == "training" and report.status == "SUCCEEDED" and report.model_name == "attr-m"
    assert report.console_url.endswith(f"#/v2/executions/details/{ARN}")
    assert report.states["TuneHyperparameters"].outcome == "succeeded"
    assert report.states["TuneHyperparameters"].seconds == 600.0
    assert report.states["TuningFailed"].outcome == "not entered"
    assert [t.name[-10:] for t in report.tuning.trials] == ["1-abcdef01", "2-abcdef02", "3-abcdef03"]
    assert report.tuning.best == trials[0]["TrainingJobName"] and report.tuning.trials[0].seconds == 240.0
    assert [(m.name, m.value, m.baseline) for m in report.metrics] == [("roc_auc", 0.83, 0.5), ("accuracy", 0.88, 0.84)]
    assert report.gate.approved_model_value == 0.8 and report.warnings == ("column 'bonus' is empty",)
    assert report.source == "s3://attr-feature-store/data/train/employees.csv" and report.predictions is None


def test_scoring_predictions_are_streamed_from_s3_into_the_histogram(s3):
    rows = "".join(f"{i},{(i % 100) / 100}\n" for i in range(5000))
    s3.put_object(
        Bucket="attr-output", Key="attr/predictions/run=s1/employees.csv", Body="employee_id,probability\n" + rows
    )
    clients, sfn, _ = stubbed(s3)
    arn_score = ARN.replace("attr-training", "attr-scoring").replace(NAME, "score-employees-1")
    described = describe_execution({"predictions": "s3://attr-output/attr/predictions/run=s1/employees.csv"})
    described.update(
        executionArn=arn_score,
        name="score-employees-1",
        stateMachineArn="arn:aws:states:us-east-1:123456789012:stateMachine:attr-scoring",
    )
    sfn.add_response("describe_execution", described, {"executionArn": arn_score})
    sfn.add_response(
        "describe_state_machine_for_execution",
        {
            "stateMachineArn": described["stateMachineArn"],
            "name": "attr-scoring",
            "definition": json.dumps(DEFINITION),
            "roleArn": "arn:aws:iam::123456789012:role/attr-states",
            "updateDate": at(-60),
        },
        {"executionArn": arn_score},
    )
    sfn.add_response("get_execution_history", {"events": []}, {"executionArn": arn_score, "includeExecutionData": True})
    with sfn:
        report = aws_report(clients, TARGET, "score-employees-1")
    assert report.workflow == "scoring" and report.tuning is None and report.warnings == ()
    assert report.predictions.rows == 5000 and report.predictions.counts == (250,) * 20


def test_a_tuning_job_that_sagemaker_never_created_leaves_the_tuning_section_empty(s3):
    clients, sfn, sagemaker = stubbed(s3)
    first, second = history_pages()
    failed = [
        *first["events"],
        {
            "timestamp": at(1),
            "type": "TaskFailed",
            "id": 4,
            "previousEventId": 3,
            "taskFailedEventDetails": {
                "resourceType": "sagemaker",
                "resource": "createHyperParameterTuningJob.sync",
                "error": "SageMaker.AmazonSageMakerException",
                "cause": "Access denied",
            },
        },
        {
            "timestamp": at(1),
            "type": "TaskStateExited",
            "id": 5,
            "previousEventId": 4,
            "stateExitedEventDetails": {"name": "TuneHyperparameters", "output": "{}"},
        },
        {
            "timestamp": at(1),
            "type": "FailStateEntered",
            "id": 6,
            "previousEventId": 5,
            "stateEnteredEventDetails": {"name": "TuningFailed", "input": "{}"},
        },
        {
            "timestamp": at(1),
            "type": "ExecutionFailed",
            "id": 7,
            "previousEventId": 6,
            "executionFailedEventDetails": {"error": "SageMaker.AmazonSageMakerException", "cause": "Access denied"},
        },
    ]
    described = describe_execution({})
    described.update(status="FAILED", error="SageMaker.AmazonSageMakerException", cause="Access denied")
    del described["output"]
    sfn.add_response("describe_execution", described, {"executionArn": ARN})
    sfn.add_response(
        "describe_state_machine_for_execution",
        {
            "stateMachineArn": described["stateMachineArn"],
            "name": "attr-training",
            "definition": json.dumps(DEFINITION),
            "roleArn": "arn:aws:iam::123456789012:role/attr-states",
            "updateDate": at(-60),
        },
        {"executionArn": ARN},
    )
    sfn.add_response("get_execution_history", {"events": failed}, {"executionArn": ARN, "includeExecutionData": True})
    sagemaker.add_client_error(
        "describe_hyper_parameter_tuning_job",
        "ResourceNotFound",
        f"Amazon SageMaker can't find a tuning job named {TUNING_JOB}",
    )
    with sfn, sagemaker:
        report = aws_report(clients, TARGET, NAME)
    assert report.tuning is None and report.metrics == () and report.gate is None
    assert report.states["TuneHyperparameters"].outcome == "caught"
    assert report.states["TuningFailed"].outcome == "failed" and report.error == "SageMaker.AmazonSageMakerException"


def test_an_unknown_execution_is_one_line_naming_it(s3):
    clients, sfn, _ = stubbed(s3)
    sfn.add_client_error("describe_execution", "ExecutionDoesNotExist", "Execution Does Not Exist: 'x'")
    with sfn, pytest.raises(PipelineError) as raised:
        aws_report(clients, TARGET, ARN)
    assert raised.value.headline == f"{ARN}: ExecutionDoesNotExist: Execution Does Not Exist: 'x'"


def test_a_name_maps_to_the_execution_of_its_state_machine():
    assert execution_arn(TARGET, NAME) == ARN
    assert execution_arn(TARGET, "score-x-1").endswith(":execution:attr-scoring:score-x-1")
    with pytest.raises(PipelineError, match="not an execution name of this pipeline"):
        execution_arn(TARGET, "nightly-run")
