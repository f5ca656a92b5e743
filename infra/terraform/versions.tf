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

  # Deploy publishes a version of each state machine and points this alias at it
  # (mlops_pipeline.deploy.ALIAS); the landing Lambda starts executions through it only.
  state_machine_alias              = "live"
  training_state_machine_alias_arn = "${local.training_state_machine_arn}:${local.state_machine_alias}"
  scoring_state_machine_alias_arn  = "${local.scoring_state_machine_arn}:${local.state_machine_alias}"
}
