terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40, < 7.0"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = merge(var.tags, { "mlops-pipeline" = var.pipeline_name })
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # The names deploy gives the state machines (mlops_pipeline.naming.state_machine_name).
  training_state_machine_arn = "arn:${local.partition}:states:${var.region}:${local.account_id}:stateMachine:${var.pipeline_name}-training"
  scoring_state_machine_arn  = "arn:${local.partition}:states:${var.region}:${local.account_id}:stateMachine:${var.pipeline_name}-scoring"
}
