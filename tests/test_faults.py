"""Injected faults raise AWS errors that reach Step Functions under the names AWS gives them."""

from __future__ import annotations

import pytest

from conftest import running_control
from mlops_pipeline.aws_errors import AwsError
from mlops_pipeline.errors import PipelineError
from mlops_pipeline.local.faults import Faults
from mlops_pipeline.local.integrations import default_table
from mlops_pipeline.local.tasks import TaskControl, TaskFailure

TASKS = {
    "aws-sdk:s3:getObject": "aws-sdk:s3:getObject",
    "sagemaker:createModel": "sagemaker:createModel",
    "ReadApprovedModel": "aws-sdk:s3:getObject",
}


@pytest.mark.parametrize(
    "text, message",
    [
        ("Nope=S3.S3Exception", "fault 'Nope=S3.S3Exception': no Task state or resource 'Nope' (known: aws-sdk:s3:"),
        ("ReadApprovedModel=S3.SlowDownException", "ReadApprovedModel=S3.SlowDownException': aws-sdk:s3:getObject "),
        ("ReadApprovedModel=S3.S3Exception*x", "write TARGET=ERROR or TARGET=ERROR*N"),
        ("ReadApprovedModel=", "write TARGET=ERROR or TARGET=ERROR*N"),
    ],
)
def test_a_fault_that_cannot_happen_is_refused_in_one_line(text, message):
    with pytest.raises(PipelineError) as refused:
        Faults.parse(text, TASKS)
    assert message in str(refused.value) and "\n" not in str(refused.value)


def test_a_state_s_faults_come_before_its_resource_s_and_run_out():
    faults = Faults.parse("aws-sdk:s3:getObject=NoSuchKey, ReadApprovedModel=S3.S3Exception*2", TASKS)
    codes = []
    for state in ("ReadApprovedModel", "ReadApprovedModel", "ReadApprovedModel", "Other", "ReadApprovedModel"):
        try:
            faults.take("aws-sdk:s3:getObject", state)
            codes.append(None)
        except AwsError as error:
            codes.append(error.code)
    assert codes == ["SlowDown", "SlowDown", "NoSuchKey", None, None]


def test_an_injected_fault_reaches_step_functions_under_aws_s_name_and_the_next_call_runs(services):
    faults = Faults.parse("sagemaker:createModel=SageMaker.AmazonSageMakerException", TASKS)
    control = TaskControl(running=lambda: True, execution_name="e", state_name="CreateModel")
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/byo-xgboost:1.0"
    request = {"ModelName": "m-1", "ExecutionRoleArn": "arn:aws:iam::1:role/r", "PrimaryContainer": {"Image": image}}
    with pytest.raises(TaskFailure) as failed:
        default_table().dispatch(services, "sagemaker:createModel", request, control, faults)
    assert failed.value.error == "SageMaker.AmazonSageMakerException"
    assert "(Service: AmazonSageMaker; Status Code: 400; Error Code: ThrottlingException;" in failed.value.cause
    created = default_table().dispatch(services, "sagemaker:createModel", request, running_control(), faults)
    assert created["ModelArn"].endswith(":model/m-1")
