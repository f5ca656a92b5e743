# Failure notifications: each failed, timed-out or aborted execution of the two state machines becomes
# one message on a KMS-encrypted SNS topic of its own (people who follow the pipeline's runs subscribe
# to it; the alarms topic stays for the landing's operational alarms, whose CloudWatch messages are
# another audience and another format).
#
# Step Functions sends "Step Functions Execution Status Change" events to the default event bus; their
# detail is DescribeExecution's answer (AWS Step Functions developer guide, "EventBridge for Step
# Functions execution status changes"), which does not name the state that failed. An input
# transformer can only copy event fields, so a small Lambda (mlops_pipeline.handlers.failure_notice,
# in the landing handler's zip) reads GetExecutionHistory for the failed state, builds the message
# the local runtime also builds, and publishes it. Deploy subscribes the workflow's e-mail addresses
# and HTTPS endpoints (PipelineConfig.notifications) to the topic.

locals {
  failure_notifier_name = "${var.prefix}-${var.pipeline_name}-failure-notifier"
  # Executions of the two state machines (GetExecutionHistory takes an execution ARN).
  pipeline_executions = [
    for arn in [local.training_state_machine_arn, local.scoring_state_machine_arn] : "${replace(arn, ":stateMachine:", ":execution:")}:*"
  ]
}

resource "aws_sns_topic" "failures" {
  name              = "${var.prefix}-${var.pipeline_name}-failures"
  kms_master_key_id = aws_kms_key.pipeline.arn # the notifier's role may use it: see its policy below
}

# Executions started through the `live` alias still carry the state machine's own ARN in
# stateMachineArn (the alias is in stateMachineAliasArn: DescribeExecution in botocore's model), so
# the two unqualified ARNs match every execution of this pipeline and nothing else.
resource "aws_cloudwatch_event_rule" "execution_failed" {
  name        = "${var.prefix}-${var.pipeline_name}-execution-failed"
  description = "Failed, timed-out or aborted executions of ${var.pipeline_name}-training and ${var.pipeline_name}-scoring."
  event_pattern = jsonencode({
    source        = ["aws.states"]
    "detail-type" = ["Step Functions Execution Status Change"]
    detail = {
      status          = ["FAILED", "TIMED_OUT", "ABORTED"]
      stateMachineArn = [local.training_state_machine_arn, local.scoring_state_machine_arn]
    }
  })
}

# EventBridge retries an invocation it could not make for up to a day (its defaults, said here);
# once invoked, Lambda retries a failed run twice and then dead-letters the event.
resource "aws_cloudwatch_event_target" "failure_notifier" {
  rule = aws_cloudwatch_event_rule.execution_failed.name
  arn  = aws_lambda_function.failure_notifier.arn

  retry_policy {
    maximum_event_age_in_seconds = 86400
    maximum_retry_attempts       = 185
  }
}

resource "aws_lambda_permission" "failure_events" {
  statement_id   = "AllowExecutionFailedRule"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.failure_notifier.function_name
  principal      = "events.amazonaws.com"
  source_arn     = aws_cloudwatch_event_rule.execution_failed.arn
  source_account = local.account_id
}

resource "aws_cloudwatch_log_group" "failure_notifier" {
  name              = "/aws/lambda/${local.failure_notifier_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.pipeline.arn
}

# Status-change events the notifier failed three times on: the message was not sent (its log says why).
resource "aws_sqs_queue" "failure_notifier_dead_letters" {
  name                      = "${local.failure_notifier_name}-dlq"
  kms_master_key_id         = aws_kms_key.pipeline.arn
  message_retention_seconds = 1209600 # 14 days, SQS's maximum
}

resource "aws_lambda_function" "failure_notifier" {
  #checkov:skip=CKV_AWS_117:The notifier only calls the Step Functions and SNS APIs; a VPC would add NAT or endpoints and nothing to protect.
  #checkov:skip=CKV_AWS_272:Code signing needs an account's AWS Signer profile; the package is built reproducibly by `make lambda-zip`.
  #checkov:skip=CKV_AWS_115:One short run per failed execution; a reservation would take from accounts with a low concurrency quota for nothing.
  function_name    = local.failure_notifier_name
  description      = "Publishes one message per failed, timed-out or aborted execution of ${var.pipeline_name} to ${aws_sns_topic.failures.name}."
  role             = aws_iam_role.failure_notifier.arn
  runtime          = "python3.12"
  handler          = "mlops_pipeline.handlers.failure_notice.lambda_handler"
  filename         = var.lambda_zip_path
  source_code_hash = filebase64sha256(var.lambda_zip_path)
  timeout          = 30
  memory_size      = 128
  kms_key_arn      = aws_kms_key.pipeline.arn

  environment {
    variables = {
      FAILURES_TOPIC_ARN = aws_sns_topic.failures.arn
      STATE_MACHINE_ARNS = join(",", [local.training_state_machine_arn, local.scoring_state_machine_arn])
    }
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.failure_notifier_dead_letters.arn
  }

  tracing_config {
    mode = "Active"
  }

  depends_on = [aws_cloudwatch_log_group.failure_notifier, aws_iam_role_policy.failure_notifier]
}

resource "aws_iam_role" "failure_notifier" {
  name               = local.failure_notifier_name
  assume_role_policy = data.aws_iam_policy_document.trust["lambda"].json
}

data "aws_iam_policy_document" "failure_notifier" {
  statement {
    sid       = "ReadTheHistoryOfThisPipelinesExecutions"
    actions   = ["states:GetExecutionHistory"]
    resources = local.pipeline_executions
  }

  statement {
    sid       = "PublishToTheFailuresTopic"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.failures.arn]
  }

  # Publishing to a topic encrypted with a customer-managed key takes kms:GenerateDataKey and
  # kms:Decrypt on the key (Amazon SNS developer guide, "Managing Amazon SNS encryption keys and
  # costs": a publisher's permissions); the key policy lets the account's IAM policies grant its use
  # (kms.tf, AccountAdministersAndDelegatesThroughIam). Decrypt also opens the function's environment.
  statement {
    sid       = "EncryptMessagesAndDecryptEnvironment"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.pipeline.arn]
  }

  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.failure_notifier.arn}:*"]
  }

  statement {
    sid       = "DeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.failure_notifier_dead_letters.arn]
  }

  # AWS requires Resource "*" for X-Ray: these actions take no resource ARN.
  statement {
    sid       = "TracesAwsRequiresStar"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "failure_notifier" {
  name   = "notify-${var.pipeline_name}-failures"
  role   = aws_iam_role.failure_notifier.id
  policy = data.aws_iam_policy_document.failure_notifier.json
}

# The notifier failed a run: a failure may go unannounced (after two retries its event waits in the
# notifier's dead-letter queue). Said on the alarms topic, which the landing's alarms use too.
resource "aws_cloudwatch_metric_alarm" "failure_notifier_errors" {
  alarm_name          = "${local.alarm_prefix}-failure-notifier-errors"
  alarm_description   = "The failure notifier ${local.failure_notifier_name} failed a run: a failed execution may not have been announced; its event waits in ${aws_sqs_queue.failure_notifier_dead_letters.name} after two retries."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.failure_notifier.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
}
