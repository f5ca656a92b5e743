# Schedules: the workflow's retraining and batch-scoring schedules (PipelineConfig.schedules) are
# EventBridge Scheduler schedules that deploy creates, updates and deletes in this group. Each invokes
# the landing Lambda with a scheduled event; the handler starts the execution of the newest file under
# the prefix with the input and name a landing of it gets (docs/architecture.md, "Schedules"). So the
# scheduler's role may invoke that one function and nothing else, and the function keeps the only grant
# to start the two state machines (through their live alias, iam.tf).

resource "aws_scheduler_schedule_group" "pipeline" {
  name = "${var.prefix}-${var.pipeline_name}"
}

locals {
  # The schedules deploy creates in the group (mlops_pipeline.naming.schedule_name).
  schedule_arns = "arn:${local.partition}:scheduler:${var.region}:${local.account_id}:schedule/${aws_scheduler_schedule_group.pipeline.name}/*"
  # The landing Lambda's ARN from its name (lambda.tf; tested equal), not from the resource: a policy
  # document that depended on the function would be read again whenever the function changes.
  landing_function_arn = "arn:${local.partition}:lambda:${var.region}:${local.account_id}:function:${var.prefix}-${var.pipeline_name}-landing"
}

# Only EventBridge Scheduler, for this account's schedules of this group (the confused-deputy
# conditions of the EventBridge Scheduler User Guide, "Set up the execution role").
data "aws_iam_policy_document" "scheduler_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.schedule_arns]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.prefix}-${var.pipeline_name}-scheduler"
  assume_role_policy = data.aws_iam_policy_document.scheduler_trust.json
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "InvokeTheLandingHandlerOnly"
    actions   = ["lambda:InvokeFunction"]
    resources = [local.landing_function_arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "invoke-${var.pipeline_name}-landing"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

# A scheduled run looks for the newest file under the two prefixes (ListObjectVersions), so the landing
# handler may list the feature store's versions there, and nowhere else.
data "aws_iam_policy_document" "landing_lists_feature_store" {
  statement {
    sid       = "ListLandedVersionsUnderTheTwoPrefixes"
    actions   = ["s3:ListBucketVersions"]
    resources = [local.bucket_arns["feature_store"]]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [var.training_prefix, var.scoring_prefix]
    }
  }
}

resource "aws_iam_role_policy" "landing_lists_feature_store" {
  name   = "list-${var.pipeline_name}-landed-files"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.landing_lists_feature_store.json
}
