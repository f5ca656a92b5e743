# The Glue transform (one Python shell job for every pipeline run: each run names its transform
# module) and the crawler that catalogs the published predictions for Athena.

locals {
  # The names the Step Functions role is granted (iam.tf). Taken from here rather than from the
  # resources, so that a pending change to the job or crawler leaves that policy readable in a plan.
  glue_job_name     = "${var.pipeline_name}-transform"
  glue_crawler_name = "${var.pipeline_name}-output"
}

resource "aws_glue_security_configuration" "pipeline" {
  name = "${var.prefix}-${var.pipeline_name}"

  encryption_configuration {
    cloudwatch_encryption {
      cloudwatch_encryption_mode = "SSE-KMS"
      kms_key_arn                = aws_kms_key.pipeline.arn
    }

    job_bookmarks_encryption {
      job_bookmarks_encryption_mode = "CSE-KMS"
      kms_key_arn                   = aws_kms_key.pipeline.arn
    }

    s3_encryption {
      s3_encryption_mode = "SSE-KMS"
      kms_key_arn        = aws_kms_key.pipeline.arn
    }
  }
}

resource "aws_glue_job" "transform" {
  name                   = local.glue_job_name
  description            = "Validates a landed CSV and writes the training or scoring extract (glue_transforms/run_transform.py)."
  role_arn               = aws_iam_role.glue.arn
  max_capacity           = 1
  timeout                = var.glue_job_timeout_minutes
  security_configuration = aws_glue_security_configuration.pipeline.name

  command {
    name            = "pythonshell"
    python_version  = "3.9"
    script_location = "s3://${local.bucket_names["source_repository"]}/glue_transforms/run_transform.py"
  }

  default_arguments = {
    "--job-language"                     = "python"
    "library-set"                        = "analytics"
    "--enable-continuous-cloudwatch-log" = "true"
  }

  execution_property {
    max_concurrent_runs = 10
  }
}

resource "aws_glue_catalog_database" "output" {
  name        = replace("${var.prefix}_${var.pipeline_name}_output", "-", "_")
  description = "Tables of the ${var.pipeline_name} pipeline's published predictions."
}

resource "aws_glue_crawler" "output" {
  name                   = local.glue_crawler_name
  description            = "Catalogs s3://<output>/${var.pipeline_name}/predictions/ after each scoring run."
  role                   = aws_iam_role.glue.arn
  database_name          = aws_glue_catalog_database.output.name
  security_configuration = aws_glue_security_configuration.pipeline.name

  s3_target {
    path = "s3://${local.bucket_names["output"]}/${var.pipeline_name}/predictions/"
  }

  schema_change_policy {
    delete_behavior = "LOG"
    update_behavior = "UPDATE_IN_DATABASE"
  }
}
