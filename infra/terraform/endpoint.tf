# The real-time endpoint (PipelineConfig.endpoint in the workflow): the training workflow creates an
# endpoint configuration per approved model, then creates or updates the endpoint and polls it until
# InService. Granted only with enable_api_endpoint; scoped to this pipeline's names: the endpoint is
# named <pipeline> or <pipeline>-... (config.EndpointSettings), its configurations like every job.
# ARN formats: Service Authorization Reference, Amazon SageMaker, resource types "endpoint"
# (endpoint/${EndpointName}) and "endpoint-config" (endpoint-config/${EndpointConfigName}); the same as
# botocore's sagemaker model gives the EndpointArn and EndpointConfigArn shapes (":endpoint/.*",
# ":endpoint-config/.*").

variable "enable_api_endpoint" {
  description = "The workflow deploys approved models to a SageMaker real-time endpoint (PipelineConfig.endpoint)."
  type        = bool
  default     = false

  validation {
    condition     = var.enable_api_endpoint != null
    error_message = "enable_api_endpoint must be true or false."
  }
}

locals {
  pipeline_endpoints = [
    "${local.sagemaker_arn}:endpoint/${var.pipeline_name}",
    "${local.sagemaker_arn}:endpoint/${var.pipeline_name}-*",
  ]
  pipeline_endpoint_configs = "${local.sagemaker_arn}:endpoint-config/${var.pipeline_name}-*"
}

data "aws_iam_policy_document" "states_endpoint" {
  statement {
    sid       = "CreateEndpointConfigsOfThisPipeline"
    actions   = ["sagemaker:CreateEndpointConfig"]
    resources = [local.pipeline_endpoint_configs]
  }

  statement {
    sid       = "CreateAndUpdateTheEndpointOfThisPipeline"
    actions   = ["sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint"]
    resources = concat(local.pipeline_endpoints, [local.pipeline_endpoint_configs])
  }

  statement {
    sid       = "DescribeTheEndpointOfThisPipeline"
    actions   = ["sagemaker:DescribeEndpoint"]
    resources = local.pipeline_endpoints
  }
}

resource "aws_iam_role_policy" "states_endpoint" {
  count  = var.enable_api_endpoint ? 1 : 0
  name   = "deploy-${var.pipeline_name}-endpoint"
  role   = aws_iam_role.states.id
  policy = data.aws_iam_policy_document.states_endpoint.json
}
