# Landings that could not start their execution: the landing Lambda fails the invocation, Lambda
# retries it twice and then puts the event, unchanged, in the dead-letter queue (lambda.tf). These
# alarms say so on one KMS-encrypted SNS topic; `mlops-pipeline replay-dead-letters` re-delivers
# the queued events once the cause is gone.

locals {
  alarm_prefix = "${var.prefix}-${var.pipeline_name}"
}

resource "aws_sns_topic" "alarms" {
  name              = "${local.alarm_prefix}-alarms"
  kms_master_key_id = aws_kms_key.pipeline.arn # CloudWatch may use it: see kms.tf
}

# CloudWatch publishes alarm notifications as the service cloudwatch.amazonaws.com; only these
# alarms may (AWS Knowledge Center, "Why didn't I receive an SNS notification for my CloudWatch
# alarm trigger?": the sns:Publish grant and its aws:SourceArn condition). The account's own
# principals keep what their IAM policies give them.
data "aws_iam_policy_document" "alarms_topic" {
  statement {
    sid       = "CloudWatchAlarmsOfThisPipelinePublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:cloudwatch:${var.region}:${local.account_id}:alarm:${local.alarm_prefix}-*"]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.alarms_topic.json
}

# Each address gets a confirmation e-mail from SNS; nothing is delivered to it before it is confirmed.
resource "aws_sns_topic_subscription" "alarm_email" {
  for_each  = toset(var.alarm_email_addresses)
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

# A message in the dead-letter queue is a landing that started nothing. SQS stops reporting a queue
# it considers inactive, so missing data keeps the alarm's state ("ignore"): it does not return to
# OK while a message may still wait, and it does once a replay empties the queue.
resource "aws_cloudwatch_metric_alarm" "landing_dead_letters" {
  alarm_name          = "${local.alarm_prefix}-landing-dead-letters"
  alarm_description   = "Landed files that started no execution wait in ${aws_sqs_queue.landing_dead_letters.name}: fix the cause, then run `mlops-pipeline replay-dead-letters`."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.landing_dead_letters.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "ignore"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# Any failed invocation: a record Lambda will retry (and, after two retries, dead-letter), a
# misconfigured function or a timeout. No invocation means no error, so missing data is fine.
resource "aws_cloudwatch_metric_alarm" "landing_errors" {
  alarm_name          = "${local.alarm_prefix}-landing-errors"
  alarm_description   = "The landing Lambda ${aws_lambda_function.landing.function_name} failed an invocation; Lambda retries it twice, then dead-letters the event."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.landing.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
}

# Lambda could not write an event to the dead-letter queue: it then deletes the event (AWS Lambda
# developer guide, "Dead-letter queues": DeadLetterErrors). Nothing can replay it; land the file again.
resource "aws_cloudwatch_metric_alarm" "landing_dead_letter_errors" {
  alarm_name          = "${local.alarm_prefix}-landing-dead-letter-errors"
  alarm_description   = "Lambda could not dead-letter a failed landing event of ${aws_lambda_function.landing.function_name}; it is lost: land the file again."
  namespace           = "AWS/Lambda"
  metric_name         = "DeadLetterErrors"
  dimensions          = { FunctionName = aws_lambda_function.landing.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
}
