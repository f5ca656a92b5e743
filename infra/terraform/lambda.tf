# The landing handler: S3 ObjectCreated events on the feature store -> one execution per object version.

resource "aws_cloudwatch_log_group" "landing" {
  name              = "/aws/lambda/${var.prefix}-${var.pipeline_name}-landing"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.pipeline.arn
}

# Events of invocations that failed three times (the handler fails one only for records it could
# not start, after handling the others); `mlops-pipeline replay-dead-letters` re-delivers them, and
# alarms.tf raises an alarm while any waits.
resource "aws_sqs_queue" "landing_dead_letters" {
  name                      = "${var.prefix}-${var.pipeline_name}-landing-dlq"
  kms_master_key_id         = aws_kms_key.pipeline.arn
  message_retention_seconds = 1209600 # 14 days, SQS's maximum: time to look at what failed
}

resource "aws_lambda_function" "landing" {
  #checkov:skip=CKV_AWS_117:The handler only calls the Step Functions API; a VPC would add NAT or endpoints and nothing to protect.
  #checkov:skip=CKV_AWS_272:Code signing needs an account's AWS Signer profile; the package is built reproducibly by `make lambda-zip`.
  function_name                  = "${var.prefix}-${var.pipeline_name}-landing"
  description                    = "Starts ${var.pipeline_name}-training or ${var.pipeline_name}-scoring for each file landed in the feature store."
  role                           = aws_iam_role.lambda.arn
  runtime                        = "python3.12"
  handler                        = "mlops_pipeline.handlers.s3_landing.lambda_handler"
  filename                       = var.lambda_zip_path
  source_code_hash               = filebase64sha256(var.lambda_zip_path)
  timeout                        = 60
  memory_size                    = 128
  reserved_concurrent_executions = var.lambda_reserved_concurrency
  kms_key_arn                    = aws_kms_key.pipeline.arn

  # Executions start through the alias deploy points at the version it published.
  environment {
    variables = {
      TRAINING_STATE_MACHINE_ARN = local.training_state_machine_alias_arn
      SCORING_STATE_MACHINE_ARN  = local.scoring_state_machine_alias_arn
      TRAINING_PREFIX            = var.training_prefix
      SCORING_PREFIX             = var.scoring_prefix
      ACCEPTED_SUFFIXES          = var.landing_suffix
      FEATURE_STORE_BUCKET       = local.feature_store_bucket
    }
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.landing_dead_letters.arn
  }

  tracing_config {
    mode = "Active"
  }

  depends_on = [aws_cloudwatch_log_group.landing, aws_iam_role_policy.lambda]
}

resource "aws_lambda_permission" "feature_store" {
  statement_id   = "AllowFeatureStoreEvents"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.landing.function_name
  principal      = "s3.amazonaws.com"
  source_arn     = local.bucket_arns["feature_store"]
  source_account = local.account_id
}

# One notification configuration per bucket (S3 keeps only one): both prefixes, one suffix.
resource "aws_s3_bucket_notification" "feature_store" {
  bucket = local.feature_store_bucket

  lambda_function {
    id                  = "training-files"
    lambda_function_arn = aws_lambda_function.landing.arn
    events              = ["s3:ObjectCreated:*"]
    filter_prefix       = var.training_prefix
    filter_suffix       = var.landing_suffix
  }

  lambda_function {
    id                  = "scoring-files"
    lambda_function_arn = aws_lambda_function.landing.arn
    events              = ["s3:ObjectCreated:*"]
    filter_prefix       = var.scoring_prefix
    filter_suffix       = var.landing_suffix
  }

  depends_on = [aws_lambda_permission.feature_store]
}
