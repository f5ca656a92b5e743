# What deploy and `mlops-pipeline replay-dead-letters` read (mlops_pipeline.target.TERRAFORM_OUTPUT_KEYS).

output "pipeline_name" {
  description = "The workflow's PIPELINE name these resources serve."
  value       = var.pipeline_name
}

output "partition" {
  description = "AWS partition (aws, aws-cn, aws-us-gov)."
  value       = local.partition
}

output "region" {
  description = "Region of every resource."
  value       = var.region
}

output "account_id" {
  description = "Account of every resource."
  value       = local.account_id
}

output "feature_store_bucket" {
  description = "Where training and scoring files land."
  value       = local.bucket_names["feature_store"]
}

output "source_repository_bucket" {
  description = "Glue scripts (deploy uploads glue_transforms/*.py here)."
  value       = local.bucket_names["source_repository"]
}

output "extracts_bucket" {
  description = "Training, validation and scoring extracts written by the Glue transform."
  value       = local.bucket_names["extracts"]
}

output "model_bucket" {
  description = "Model artifacts of the training jobs."
  value       = local.bucket_names["model"]
}

output "metadata_bucket" {
  description = "Approval records (latest approved model per pipeline)."
  value       = local.bucket_names["metadata"]
}

output "output_bucket" {
  description = "Batch transform output and published predictions."
  value       = local.bucket_names["output"]
}

output "sagemaker_role_arn" {
  description = "Role the training, tuning and transform jobs run as."
  value       = aws_iam_role.sagemaker.arn
}

output "step_functions_role_arn" {
  description = "Role the two state machines run as."
  value       = aws_iam_role.states.arn
}

output "glue_job_name" {
  description = "The Glue transform job."
  value       = aws_glue_job.transform.name
}

output "glue_crawler_name" {
  description = "The crawler over the published predictions."
  value       = aws_glue_crawler.output.name
}

output "ecr_registry" {
  description = "Registry host of the model image (the workflow's model.image is a repository:tag in it)."
  value       = split("/", aws_ecr_repository.model.repository_url)[0]
}

output "state_machine_log_group_arn" {
  description = "Log group deploy configures for both state machines (with the ':*' Step Functions expects)."
  value       = "${aws_cloudwatch_log_group.states.arn}:*"
}

output "training_prefix" {
  description = "Feature store prefix of training files."
  value       = var.training_prefix
}

output "scoring_prefix" {
  description = "Feature store prefix of scoring files."
  value       = var.scoring_prefix
}

output "job_subnet_ids" {
  description = "Subnets (comma-separated) the SageMaker jobs run in, network-isolated; empty without sagemaker_job_network."
  value       = var.sagemaker_job_network == null ? "" : join(",", var.sagemaker_job_network.subnet_ids)
}

output "job_security_group_ids" {
  description = "Security groups (comma-separated) of the SageMaker jobs; empty without sagemaker_job_network."
  value       = var.sagemaker_job_network == null ? "" : join(",", var.sagemaker_job_network.security_group_ids)
}

output "landing_suffix" {
  description = "Only landed keys with this suffix start executions (the landing Lambda's ACCEPTED_SUFFIXES)."
  value       = var.landing_suffix
}

output "landing_dead_letter_queue_url" {
  description = "The landing Lambda's dead-letter queue, which `mlops-pipeline replay-dead-letters` re-delivers."
  value       = aws_sqs_queue.landing_dead_letters.url
}

output "alarm_topic_arn" {
  description = "The KMS-encrypted SNS topic the pipeline's alarms notify; subscribe to it."
  value       = aws_sns_topic.alarms.arn
}

output "failure_topic_arn" {
  description = "The KMS-encrypted SNS topic that receives one message per failed, timed-out or aborted execution; deploy subscribes the workflow's notifications to it."
  value       = aws_sns_topic.failures.arn
}

output "schedule_group_name" {
  description = "The EventBridge Scheduler group deploy creates the workflow's schedules in (schedules.tf)."
  value       = aws_scheduler_schedule_group.pipeline.name
}

output "scheduler_role_arn" {
  description = "The role the schedules run as: it may only invoke the landing Lambda."
  value       = aws_iam_role.scheduler.arn
}

output "landing_function_arn" {
  description = "The landing Lambda, which the schedules invoke with a scheduled run."
  value       = aws_lambda_function.landing.arn
}
