"""The scoring workflow: approved model (the model registry) → transform → batch transform → publish → crawl."""

from __future__ import annotations

from mlops_pipeline.aws_errors import (
    GLUE_SDK_TRANSIENT_ERRORS,
    S3_TRANSIENT_ERRORS,
    SAGEMAKER_JOB_TRANSIENT_ERRORS,
    SFN_TRANSIENT_ERRORS,
)
from mlops_pipeline.builders.common import (
    aws_sdk_arn,
    catch_into,
    failure,
    job_name,
    job_retries,
    pin_landed_object,
    read_data_report,
    s3_prefix,
    service_arn,
    states_format,
    transient_retry,
    validate_input,
)
from mlops_pipeline.builders.glue import glue_transform
from mlops_pipeline.builders.registry import resolve_approved
from mlops_pipeline.builders.sdk import Catch, Chain, Choice, ChoiceRule, Fail, Pass, Succeed, Task, Wait, render
from mlops_pipeline.config import InferenceSettings, PipelineConfig
from mlops_pipeline.layout import (
    SCORE_CHANNEL,
    SLOT,
    TRANSFORM_OUTPUT,
    latest_predictions_key,
    predictions_key,
    transform_output_key,
)
from mlops_pipeline.naming import Workflow, model_package_group_name
from mlops_pipeline.target import Target


def resolve_model_step(config: PipelineConfig, target: Target, transform) -> Task:
    """The model registry's latest approved version: the SageMaker model and the training schema; then
    ``transform``. None approved ends in ``NoApprovedModel`` before any compute is spent."""
    group = model_package_group_name(config.name)
    no_model = Fail(
        "NoApprovedModel",
        error="NoApprovedModel",
        cause=(
            f"Pipeline {config.name} has no approved model (no Approved version in the model package group "
            f"{group}) and no training is running. Land a training file under {target.training_prefix} and let "
            "it pass the quality gate, or approve a version with `mlops-pipeline models approve`, then land this "
            "scoring file again."
        ),
    )
    failed = failure("ResolveApprovedModelFailed", "ResolveApprovedModelFailed", f"Reading the model registry {group}")
    return resolve_approved(
        ("ResolveApprovedModel", "IsAnyModelApproved", "DescribeApprovedModel"),
        config,
        target,
        "The latest approved version in the model registry.",
        "$.approved",
        found=transform,
        none=no_model,
        failed=failed,
    )


def wait_for_running_training(config: PipelineConfig, target: Target, resolve) -> Pass:
    """Scoring that lands while a training runs waits for it, up to ``scoring_wait_seconds``.

    S3 events arrive in any order, so a scoring file dropped right after a training file may start
    first; polling the training state machine keeps it from scoring with a stale (or no) model. The
    waits grow by a second each, from 1 s up to ``scoring_poll_seconds``: a training of T seconds is
    waited out within about sqrt(2T) seconds of its end.
    """
    training_arn = target.state_machine_arn(Workflow.TRAINING.state_machine_name(config.name))
    start = Pass("StartWaitBudget", result={"seconds": 1, "waited": 0}, result_path="$.wait")
    check = Task(
        "CheckTrainingRunning",
        resource=aws_sdk_arn(target, "sfn", "listExecutions"),
        parameters={"StateMachineArn": training_arn, "StatusFilter": "RUNNING", "MaxResults": 1},
        result_selector={"running.$": "States.ArrayLength($.Executions)"},
        result_path="$.training",
        retry=[transient_retry(config.retry, SFN_TRANSIENT_ERRORS)],
    )
    check.add_catch(
        catch_into(
            failure(
                "CheckTrainingRunningFailed",
                "CheckTrainingRunningFailed",
                f"Listing running executions of {training_arn}",
            )
        )
    )
    wait = Wait("WaitForTraining", seconds_path="$.wait.seconds")
    count = Pass(
        "CountWait",
        parameters={
            "waited.$": "States.MathAdd($.wait.waited, $.wait.seconds)",
            "seconds.$": "States.MathAdd($.wait.seconds, 1)",
        },
        result_path="$.wait",
    )
    cap = Choice("CapWait", comment=f"Check at least every {config.scoring_poll_seconds} s.")
    capped = Pass(
        "WaitAtMost",
        parameters={"waited.$": "$.wait.waited", "seconds": config.scoring_poll_seconds},
        result_path="$.wait",
    )
    cap.add_choice(ChoiceRule.NumericGreaterThan("$.wait.seconds", config.scoring_poll_seconds), capped)
    cap.default_choice(check)
    decide = Choice(
        "TrainingStillRunning", comment=f"Wait up to {config.scoring_wait_seconds} s for a running training."
    )
    decide.add_choice(
        ChoiceRule.And(
            [
                ChoiceRule.NumericGreaterThan("$.training.running", 0),
                ChoiceRule.NumericLessThan("$.wait.waited", config.scoring_wait_seconds),
            ]
        ),
        wait,
    )
    decide.default_choice(resolve)
    Chain([start, check, decide])
    Chain([wait, count, cap])
    capped.next(check)
    return start


def batch_transform_step(config: PipelineConfig, target: Target) -> Task:
    """Score the extract with the approved model; ids are joined back by SageMaker itself."""
    inference = config.inference
    return Task(
        "BatchTransform",
        resource=service_arn(target, "sagemaker", "createTransformJob", sync=True),
        parameters={
            "TransformJobName.$": job_name(config),
            "ModelName.$": "$.approved.record.model_name",
            # SageMaker: a batch strategy needs a split type other than None.
            **({"BatchStrategy": inference.batch_strategy} if inference.split_type != "None" else {}),
            "MaxPayloadInMB": inference.max_payload_mb,
            "MaxConcurrentTransforms": inference.max_concurrent_transforms,
            "TransformInput": {
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri.$": s3_prefix(target.extracts_bucket, config, SCORE_CHANNEL),
                    }
                },
                "ContentType": inference.content_type,
                "SplitType": inference.split_type,
            },
            "TransformOutput": {
                "S3OutputPath.$": s3_prefix(target.output_bucket, config, TRANSFORM_OUTPUT),
                "Accept": inference.accept,
                "AssembleWith": inference.assemble_with,
            },
            "TransformResources": {"InstanceType": inference.instance_type, "InstanceCount": inference.instance_count},
            **({"DataProcessing": data_processing(inference)} if inference.processes_data else {}),
        },
        result_selector={"TransformJobName.$": "$.TransformJobName", "TransformOutput.$": "$.TransformOutput"},
        result_path="$.transform_job",
        timeout_seconds=inference.timeout_seconds,
        retry=job_retries(config.retry, SAGEMAKER_JOB_TRANSIENT_ERRORS),
    )


def data_processing(inference: InferenceSettings) -> dict:
    """SageMaker's ``DataProcessing``: the default cuts the id off each record and joins it back to the answer."""
    return {
        **({"InputFilter": inference.input_filter} if inference.input_filter else {}),
        "JoinSource": inference.join_source,
        **({"OutputFilter": inference.output_filter} if inference.output_filter else {}),
    }


def name_predictions(config: PipelineConfig, target: Target) -> Pass:
    """Where this run's predictions go: a key of its own (never overwritten) and the file's latest copy."""
    parts = "States.StringSplit($.key, '/')"
    file_name = f"States.ArrayGetItem({parts}, States.MathAdd(States.ArrayLength({parts}), -1))"
    return Pass(
        "NamePredictions",
        parameters={
            "source_key.$": states_format(transform_output_key(config.name, SLOT), "$.job_stem"),
            "file_name.$": file_name,
        },
        result_path="$.published",
    )


def publish_step(state_id: str, config: PipelineConfig, target: Target, key: str, what: str) -> Task:
    """Copy the transform output (a header, then id and prediction per line) to ``key`` (a States.Format)."""
    bucket = target.output_bucket
    return Task(
        state_id,
        resource=aws_sdk_arn(target, "s3", "copyObject"),
        comment=f"Copy the transform output to {what}.",
        parameters={
            "Bucket": bucket,
            "CopySource.$": states_format(f"{bucket}/{SLOT}", "$.published.source_key"),
            "Key.$": key,
            "ContentType": "text/csv",
        },
        result_path=None,
        retry=[transient_retry(config.retry, S3_TRANSIENT_ERRORS)],
    )


def crawl_step(config: PipelineConfig, target: Target, done) -> Task:
    """Refresh the catalog table over the predictions; a crawl already running is fine."""
    step = Task(
        "CatalogPredictions",
        resource=aws_sdk_arn(target, "glue", "startCrawler"),
        parameters={"Name": target.glue_crawler_name},
        result_path=None,
        retry=[transient_retry(config.retry, GLUE_SDK_TRANSIENT_ERRORS)],
    )
    step.add_catch(Catch(error_equals=["Glue.CrawlerRunningException"], next_step=done, result_path=None))
    return step


def build_scoring(config: PipelineConfig, target: Target) -> dict:
    """The scoring state machine definition as an ASL dict."""
    transform = glue_transform(
        "TransformScoringData", config, target, Workflow.SCORING, {"--SCHEMA_URI.$": "$.approved.record.schema_uri"}
    )
    resolve = resolve_model_step(config, target, transform)
    batch = batch_transform_step(config, target)
    name = name_predictions(config, target)
    run_key = states_format(predictions_key(config.name, SLOT, SLOT), "$.job_stem", "$.published.file_name")
    latest_key = states_format(latest_predictions_key(config.name, SLOT), "$.published.file_name")
    publish = publish_step("PublishPredictions", config, target, run_key, "this run's own predictions object")
    latest = publish_step("PublishLatestPredictions", config, target, latest_key, "the file's latest predictions")
    output = f"s3://{target.output_bucket}/"
    done = Pass(
        "SummarizeScoring",
        parameters={
            "predictions.$": states_format(
                f"{output}{predictions_key(config.name, SLOT, SLOT)}", "$.job_stem", "$.published.file_name"
            ),
            "latest.$": states_format(f"{output}{latest_predictions_key(config.name, SLOT)}", "$.published.file_name"),
            "model_name.$": "$.approved.record.model_name",
            "transform_job_name.$": "$.transform_job.TransformJobName",
            "source.$": states_format("s3://{}/{}", "$.bucket", "$.key"),
            "data_warnings.$": "$.data.report.warnings",
        },
    )
    crawl = crawl_step(config, target, done)

    transform.add_catch(
        catch_into(
            failure(
                "ScoringTransformFailed", "TransformFailed", "The Glue transform of s3://{}/{}", "$.bucket", "$.key"
            )
        )
    )
    batch.add_catch(
        catch_into(
            failure(
                "BatchTransformFailed",
                "BatchTransformFailed",
                "Batch transform with model {}",
                "$.approved.record.model_name",
            )
        )
    )
    publish_failed = failure(
        "PublishPredictionsFailed",
        "PublishPredictionsFailed",
        f"Publishing predictions to s3://{target.output_bucket}/{config.name}",
    )
    publish.add_catch(catch_into(publish_failed))
    latest.add_catch(catch_into(publish_failed))
    crawl.add_catch(
        catch_into(
            failure(
                "CatalogPredictionsFailed",
                "CatalogPredictionsFailed",
                f"Starting the crawler {target.glue_crawler_name}",
            )
        )
    )

    transform.next(read_data_report(config, target, Workflow.SCORING, batch))
    Chain([batch, name, publish, latest, crawl, done, Succeed("PredictionsPublished")])
    waiting = wait_for_running_training(config, target, resolve)
    return render(validate_input("ValidateInput", pin_landed_object(config, target, waiting), Workflow.SCORING))
