"""Error names as Step Functions reports them, checked against what AWS recorded or documents."""

from __future__ import annotations

import re

import pytest

from mlops_pipeline.aws_errors import AwsError, code_for, raisable, step_functions_cause, step_functions_error


@pytest.mark.parametrize(
    "resource, code, expected",
    [
        # aws-sdk: modelled errors get the SDK v2 class name; unmodelled ones the service's base class.
        ("aws-sdk:s3:getObject", "NoSuchKey", "S3.NoSuchKeyException"),  # recorded against AWS
        ("aws-sdk:s3:listObjects", "NoSuchBucket", "S3.NoSuchBucketException"),  # recorded
        ("aws-sdk:s3:getObject", "SlowDown", "S3.S3Exception"),
        ("aws-sdk:sfn:sendTaskSuccess", "InvalidToken", "Sfn.InvalidTokenException"),  # recorded
        ("aws-sdk:dynamodb:putItem", "ResourceNotFoundException", "DynamoDb.ResourceNotFoundException"),  # recorded
        ("aws-sdk:dynamodb:putItem", "ValidationException", "DynamoDb.DynamoDbException"),  # recorded
        ("aws-sdk:secretsmanager:createSecret", "ValidationException", "SecretsManager.SecretsManagerException"),
        ("aws-sdk:sagemaker:describeTrainingJob", "ThrottlingException", "SageMaker.SageMakerException"),
        ("aws-sdk:glue:startCrawler", "CrawlerRunningException", "Glue.CrawlerRunningException"),
        # optimised integrations: SDK v1 classes, AmazonSageMakerException for the unmodelled (documented).
        ("sagemaker:createTrainingJob.sync", "ThrottlingException", "SageMaker.AmazonSageMakerException"),
        ("sagemaker:createTrainingJob.sync", "ResourceLimitExceeded", "SageMaker.ResourceLimitExceededException"),
        ("sagemaker:createModel", "ValidationException", "SageMaker.AmazonSageMakerException"),
        ("lambda:invoke", "ResourceNotFoundException", "Lambda.ResourceNotFoundException"),  # recorded
        ("sns:publish", "NotFound", "SNS.NotFoundException"),  # recorded (wire code NotFound)
        ("sns:publish", "InvalidParameter", "SNS.InvalidParameterException"),  # recorded
        ("states:startExecution", "StateMachineDoesNotExist", "StepFunctions.StateMachineDoesNotExistException"),
        ("dynamodb:putItem", "ValidationException", "DynamoDB.AmazonDynamoDBException"),  # recorded
        ("glue:startJobRun.sync", "ConcurrentRunsExceededException", "Glue.ConcurrentRunsExceededException"),
        ("glue:startJobRun.sync", "ThrottlingException", "Glue.ThrottlingException"),  # Glue models it
        ("glue:startJobRun.sync", "ServiceUnavailable", "Glue.AWSGlueException"),
    ],
)
def test_the_error_name_step_functions_reports(resource, code, expected):
    assert step_functions_error(resource, code) == expected
    assert expected in raisable(resource)
    assert step_functions_error(resource, code_for(resource, expected)) == expected  # what faults inject


def test_names_no_call_raises_are_not_raisable():
    assert "SageMaker.ThrottlingException" not in raisable("sagemaker:createHyperParameterTuningJob.sync")
    assert "S3.SlowDownException" not in raisable("aws-sdk:s3:getObject")
    with pytest.raises(KeyError):
        code_for("aws-sdk:sfn:listExecutions", "Sfn.ThrottlingException")


def test_causes_have_the_format_step_functions_records():
    sdk = step_functions_cause("aws-sdk:s3:getObject", AwsError("NoSuchKey", "The specified key does not exist."))
    assert re.fullmatch(r"The specified key does not exist\. \(Service: S3, Status Code: 404, Request ID: \S+\)", sdk)
    optimised = step_functions_cause("sagemaker:createModel", AwsError("ThrottlingException", "Rate exceeded"))
    assert re.fullmatch(
        r"Rate exceeded \(Service: AmazonSageMaker; Status Code: 400; Error Code: ThrottlingException; "
        r"Request ID: \S+; Proxy: null\)",
        optimised,
    )
