# The six stores the workflows use, plus the bucket their access logs go to.

locals {
  # Bucket names are global: the suffix makes them unique per account, region, prefix and pipeline
  # without a provider beyond hashicorp/aws (the same inputs always give the same names).
  suffix = var.bucket_suffix != "" ? var.bucket_suffix : substr(sha256("${local.account_id}/${var.region}/${var.prefix}/${var.pipeline_name}"), 0, 8)

  # Store key -> bucket name. The feature store is created unless an existing bucket is named.
  created_stores = merge(
    var.existing_feature_store_bucket == "" ? { feature_store = "${var.prefix}-feature-store-${local.suffix}" } : {},
    {
      source_repository = "${var.prefix}-source-repository-${local.suffix}"
      extracts          = "${var.prefix}-extracts-${local.suffix}"
      model             = "${var.prefix}-model-${local.suffix}"
      metadata          = "${var.prefix}-metadata-${local.suffix}"
      output            = "${var.prefix}-output-${local.suffix}"
    },
  )
  feature_store_bucket = var.existing_feature_store_bucket != "" ? var.existing_feature_store_bucket : aws_s3_bucket.store["feature_store"].id
  bucket_names = merge(
    { for key, bucket in aws_s3_bucket.store : key => bucket.id },
    { feature_store = local.feature_store_bucket },
  )
  bucket_arns = { for key, name in local.bucket_names : key => "arn:${local.partition}:s3:::${name}" }
}

resource "aws_s3_bucket" "store" {
  #checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery choice per account; versioning keeps every object version here.
  #checkov:skip=CKV2_AWS_62:Only the feature store needs event notifications (lambda.tf); the other stores are written by the pipeline itself.
  for_each = local.created_stores
  bucket   = each.value
}

resource "aws_s3_bucket_server_side_encryption_configuration" "store" {
  for_each = aws_s3_bucket.store
  bucket   = each.value.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.pipeline.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_versioning" "store" {
  for_each = aws_s3_bucket.store
  bucket   = each.value.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_public_access_block" "store" {
  for_each                = aws_s3_bucket.store
  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "store" {
  for_each = aws_s3_bucket.store
  bucket   = each.value.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_logging" "store" {
  for_each      = aws_s3_bucket.store
  bucket        = each.value.id
  target_bucket = aws_s3_bucket.access_logs.id
  target_prefix = "${each.key}/"

  # Log delivery is granted by the log bucket's policy (its ACLs are disabled by
  # BucketOwnerEnforced), so logging is configured once that policy is in place. AWS documents
  # no permission check in PutBucketLogging for such a bucket: without this ordering, logs of the
  # first requests could fail delivery, not the apply
  # (https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html#grant-log-delivery-permissions-general,
  # https://docs.aws.amazon.com/AmazonS3/latest/userguide/troubleshooting-server-access-logging.html).
  # moto does check it, and refused the logging configuration while the policy was not there yet.
  depends_on = [aws_s3_bucket_policy.access_logs, aws_s3_bucket_ownership_controls.access_logs]
}

resource "aws_s3_bucket_lifecycle_configuration" "store" {
  for_each = aws_s3_bucket.store
  bucket   = each.value.id

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  dynamic "rule" {
    for_each = each.key == "extracts" && var.extracts_expiration_days > 0 ? [var.extracts_expiration_days] : []
    content {
      id     = "expire-extracts"
      status = "Enabled"

      filter {}

      expiration {
        days = rule.value
      }

      noncurrent_version_expiration {
        noncurrent_days = rule.value
      }
    }
  }
}

# Every bucket refuses requests without TLS or with TLS below 1.2.
data "aws_iam_policy_document" "tls_only" {
  for_each = merge({ for key, bucket in aws_s3_bucket.store : key => bucket.arn }, { access_logs = aws_s3_bucket.access_logs.arn })

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"] # a Deny: every S3 action without TLS 1.2 is refused, whatever new actions appear
    resources = [each.value, "${each.value}/*"]

    principals {
      type        = "AWS"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid       = "DenyTlsBelow12"
    effect    = "Deny"
    actions   = ["s3:*"] # a Deny: every S3 action without TLS 1.2 is refused, whatever new actions appear
    resources = [each.value, "${each.value}/*"]

    principals {
      type        = "AWS"
      identifiers = ["*"]
    }

    condition {
      test     = "NumericLessThan"
      variable = "s3:TlsVersion"
      values   = ["1.2"]
    }
  }
}

resource "aws_s3_bucket_policy" "store" {
  for_each = aws_s3_bucket.store
  bucket   = each.value.id
  policy   = data.aws_iam_policy_document.tls_only[each.key].json

  depends_on = [aws_s3_bucket_public_access_block.store]
}

# Server access logs of the stores. S3 delivers access logs only to a bucket encrypted with
# SSE-S3, so this one bucket uses AES256 instead of the KMS key.
resource "aws_s3_bucket" "access_logs" {
  #checkov:skip=CKV_AWS_18:This is the access-log bucket; logging it to itself would loop.
  #checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery choice per account.
  #checkov:skip=CKV_AWS_145:S3 server access logging delivers only to SSE-S3 buckets; AES256 is used.
  #checkov:skip=CKV2_AWS_62:Nothing consumes events of the access-log bucket.
  bucket = "${var.prefix}-access-logs-${local.suffix}"
}

resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  bucket                  = aws_s3_bucket.access_logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    id     = "abort-incomplete-multipart-uploads-and-expire"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }

    expiration {
      days = var.log_retention_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 30
    }
  }
}

data "aws_iam_policy_document" "access_logs" {
  source_policy_documents = [data.aws_iam_policy_document.tls_only["access_logs"].json]

  statement {
    sid       = "S3ServerAccessLogsFromTheStores"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.access_logs.arn}/*"]

    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [for bucket in aws_s3_bucket.store : bucket.arn]
    }
  }
}

resource "aws_s3_bucket_policy" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  policy = data.aws_iam_policy_document.access_logs.json

  depends_on = [aws_s3_bucket_public_access_block.access_logs]
}
