variable "region" {
  description = "AWS region for every resource."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must look like us-east-1."
  }
}

variable "prefix" {
  description = "Prefix of every resource name (buckets get it plus the store name and bucket_suffix)."
  type        = string
  default     = "mlops"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,18}[a-z0-9]$", var.prefix))
    error_message = "prefix must be 3-20 lowercase letters, digits or '-', starting with a letter."
  }
}

variable "pipeline_name" {
  description = "The workflow's PIPELINE name (workflows/*.py); job, model and state machine names start with it."
  type        = string
  default     = "attrition"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,11}[a-z0-9]$", var.pipeline_name)) && !strcontains(var.pipeline_name, "--")
    error_message = "pipeline_name must be 2-13 lowercase letters, digits or single '-' (tuning job names are limited to 32 characters)."
  }
}

variable "bucket_suffix" {
  description = "Suffix of every bucket name; empty (the default) derives 8 hex characters from the account, region, prefix and pipeline name. Set it to keep the names of buckets created with an earlier suffix."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^[a-z0-9]{0,16}$", var.bucket_suffix))
    error_message = "bucket_suffix must be empty or 1-16 lowercase letters and digits."
  }
}

variable "existing_feature_store_bucket" {
  description = "Name of an existing bucket to use as the feature store instead of creating one (its settings are then yours to manage)."
  type        = string
  default     = ""

  validation {
    condition     = var.existing_feature_store_bucket == "" || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.existing_feature_store_bucket))
    error_message = "existing_feature_store_bucket must be empty or a valid S3 bucket name."
  }
}

variable "training_prefix" {
  description = "Key prefix in the feature store whose new objects start the training state machine."
  type        = string
  default     = "data/train/"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()/-]+/$", var.training_prefix))
    error_message = "training_prefix must be a key prefix ending in '/'."
  }
}

variable "scoring_prefix" {
  description = "Key prefix in the feature store whose new objects start the scoring state machine."
  type        = string
  default     = "data/score/"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()/-]+/$", var.scoring_prefix))
    error_message = "scoring_prefix must be a key prefix ending in '/'."
  }
}

variable "landing_suffix" {
  description = "Only objects whose key ends with this suffix start an execution."
  type        = string
  default     = ".csv"

  validation {
    condition     = can(regex("^\\.[A-Za-z0-9]+$", var.landing_suffix))
    error_message = "landing_suffix must look like .csv."
  }
}

variable "extracts_expiration_days" {
  description = "Delete extracts (derived, re-creatable data) after this many days; 0 keeps them."
  type        = number
  default     = 0

  validation {
    condition     = var.extracts_expiration_days >= 0 && floor(var.extracts_expiration_days) == var.extracts_expiration_days
    error_message = "extracts_expiration_days must be a whole number of days, 0 or more."
  }
}

variable "log_retention_days" {
  description = "Retention of the Lambda and Step Functions log groups (CloudWatch's allowed values, at least a year)."
  type        = number
  default     = 365

  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of CloudWatch's values from 365 up (365, 400, 545, 731, ...)."
  }
}

variable "lambda_zip_path" {
  description = "The landing handler's package, built by `make lambda-zip`."
  type        = string
  default     = "../../build/landing_handler.zip"

  validation {
    condition     = endswith(var.lambda_zip_path, ".zip")
    error_message = "lambda_zip_path must name a .zip file (run `make lambda-zip`)."
  }
}

variable "lambda_reserved_concurrency" {
  description = "Concurrent landing handlers at most (each only starts an execution); null (the default) reserves none, which new accounts with a low concurrency quota need."
  type        = number
  default     = null

  validation {
    condition     = var.lambda_reserved_concurrency == null ? true : var.lambda_reserved_concurrency >= 1 && var.lambda_reserved_concurrency <= 1000 && floor(var.lambda_reserved_concurrency) == var.lambda_reserved_concurrency
    error_message = "lambda_reserved_concurrency must be null (no reservation) or a whole number from 1 to 1000."
  }
}

variable "glue_job_timeout_minutes" {
  description = "Minutes a run of the Glue transform job may take before Glue stops it."
  type        = number
  default     = 60

  validation {
    condition     = var.glue_job_timeout_minutes >= 1 && var.glue_job_timeout_minutes <= 2880 && floor(var.glue_job_timeout_minutes) == var.glue_job_timeout_minutes
    error_message = "glue_job_timeout_minutes must be a whole number of minutes from 1 to 2880 (48 hours)."
  }
}

variable "sagemaker_job_network" {
  description = "Run training and transform jobs with network isolation in this VPC (subnet_ids, security_group_ids); the Step Functions role may then only create jobs and models that are isolated in it. null (the default) runs them without."
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  default = null

  validation {
    condition = var.sagemaker_job_network == null ? true : (
      length(var.sagemaker_job_network.subnet_ids) >= 1 && length(var.sagemaker_job_network.subnet_ids) <= 16 &&
      length(var.sagemaker_job_network.security_group_ids) >= 1 && length(var.sagemaker_job_network.security_group_ids) <= 5 &&
      alltrue([for id in var.sagemaker_job_network.subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", id))]) &&
      alltrue([for id in var.sagemaker_job_network.security_group_ids : can(regex("^sg-[0-9a-f]{8,17}$", id))])
    )
    error_message = "sagemaker_job_network needs 1-16 subnet_ids (subnet-...) and 1-5 security_group_ids (sg-...), or null."
  }
}

variable "ecr_repository_name" {
  description = "ECR repository of the bring-your-own-model image (the workflow's model.image without the tag)."
  type        = string
  default     = "byo-xgboost"

  validation {
    condition     = can(regex("^[a-z0-9]+([._/-][a-z0-9]+)*$", var.ecr_repository_name))
    error_message = "ecr_repository_name must be a valid ECR repository name."
  }
}

variable "ecr_keep_images" {
  description = "How many images the ECR lifecycle policy keeps."
  type        = number
  default     = 10

  validation {
    condition     = var.ecr_keep_images >= 1 && var.ecr_keep_images <= 1000
    error_message = "ecr_keep_images must be between 1 and 1000."
  }
}

variable "alarm_email_addresses" {
  description = "E-mail addresses the alarms topic notifies (landing dead letters, landing Lambda errors); each must confirm the subscription SNS mails it. Empty (the default) subscribes none: subscribe anything to the alarm_topic_arn output yourself."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for address in var.alarm_email_addresses : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", address))])
    error_message = "alarm_email_addresses must be e-mail addresses like ops@example.com."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for key, value in var.tags : length(key) <= 128 && length(value) <= 256 && !startswith(lower(key), "aws:")])
    error_message = "tags: keys at most 128 characters, values at most 256, and no key may start with aws:."
  }
}
