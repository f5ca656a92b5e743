# The log group the state machines write to; deploy creates them with logging (level ERROR,
# execution data included) and X-Ray tracing on, using the role in iam.tf.

resource "aws_cloudwatch_log_group" "states" {
  name              = "/aws/vendedlogs/states/${var.pipeline_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.pipeline.arn
}
