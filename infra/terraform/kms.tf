# One customer-managed key for the stores, log groups, the dead-letter queue, the alarms topic, the
# Lambda's environment, the ECR repository and Glue. The roles get its use through their IAM policies.

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_356:In a key policy, Resource "*" means this key and nothing else.
  #checkov:skip=CKV_AWS_109:The account root administers its own key; the actions are listed, no wildcard.
  #checkov:skip=CKV_AWS_111:The account root administers its own key; the actions are listed, no wildcard.
  statement {
    sid    = "AccountAdministersAndDelegatesThroughIam"
    effect = "Allow"
    actions = [
      "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:CreateGrant", "kms:Decrypt", "kms:DeleteAlias",
      "kms:DescribeKey", "kms:DisableKey", "kms:DisableKeyRotation", "kms:EnableKey", "kms:EnableKeyRotation",
      "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:GetKeyPolicy",
      "kms:GetKeyRotationStatus", "kms:ListAliases", "kms:ListGrants", "kms:ListKeyPolicies",
      "kms:ListResourceTags", "kms:PutKeyPolicy", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:RetireGrant",
      "kms:RevokeGrant", "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource",
      "kms:UpdateAlias", "kms:UpdateKeyDescription",
    ]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid    = "CloudWatchLogsEncryptsThisAccountsLogGroups"
    effect = "Allow"
    actions = [
      "kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey",
      "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:*"]
    }
  }

  # CloudWatch publishes the alarms (alarms.tf) to an SNS topic this key encrypts. SNS needs the
  # publishing service allowed kms:GenerateDataKey* and kms:Decrypt in the key policy of a
  # customer-managed key (Amazon SNS developer guide, "Enable compatibility between event sources
  # from AWS services and encrypted topics"); its publisher example names the two actions a
  # publisher needs, kms:GenerateDataKey and kms:Decrypt: those, without a wildcard.
  statement {
    sid       = "CloudWatchPublishesToTheEncryptedAlarmsTopic"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "pipeline" {
  description             = "${var.prefix} ${var.pipeline_name}: stores, logs, queue, alarms topic, Lambda environment, ECR, Glue"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "pipeline" {
  name          = "alias/${var.prefix}-${var.pipeline_name}"
  target_key_id = aws_kms_key.pipeline.key_id
}
