# One role per service, each allowed what the pipeline needs of it and nothing more.
# No statement grants an action wildcard. Resource "*" appears only for actions AWS does not let
# policies scope to a resource; each such statement says so.

locals {
  sagemaker_arn = "arn:${local.partition}:sagemaker:${var.region}:${local.account_id}"
  # Every SageMaker name an execution creates starts with the pipeline name (mlops_pipeline.naming).
  sagemaker_jobs = {
    training = "${local.sagemaker_arn}:training-job/${var.pipeline_name}-*"
    tuning   = "${local.sagemaker_arn}:hyper-parameter-tuning-job/${var.pipeline_name}-*"
    model    = "${local.sagemaker_arn}:model/${var.pipeline_name}-*"
    batch    = "${local.sagemaker_arn}:transform-job/${var.pipeline_name}-*"
  }
  events_rule_arn = "arn:${local.partition}:events:${var.region}:${local.account_id}:rule"
  ec2_arn         = "arn:${local.partition}:ec2:${var.region}:${local.account_id}"

  # sagemaker_job_network set: tuning jobs (hence their training jobs) and models (hence the
  # transform jobs that run them) may only be created network-isolated in that VPC's subnets and
  # security groups. ForAllValues holds for an absent key too, so Null requires the keys.
  job_network = var.sagemaker_job_network == null ? [] : [var.sagemaker_job_network]
  job_network_conditions = var.sagemaker_job_network == null ? [] : [
    { test = "Bool", variable = "sagemaker:NetworkIsolation", values = ["true"] },
    { test = "ForAllValues:StringEquals", variable = "sagemaker:VpcSubnets", values = var.sagemaker_job_network.subnet_ids },
    { test = "ForAllValues:StringEquals", variable = "sagemaker:VpcSecurityGroupIds", values = var.sagemaker_job_network.security_group_ids },
    { test = "Null", variable = "sagemaker:VpcSubnets", values = ["false"] },
    { test = "Null", variable = "sagemaker:VpcSecurityGroupIds", values = ["false"] },
  ]
  glue_arn = "arn:${local.partition}:glue:${var.region}:${local.account_id}"
  logs_arn = "arn:${local.partition}:logs:${var.region}:${local.account_id}"
}

# Each role may be assumed by its service only, on behalf of this account only.
data "aws_iam_policy_document" "trust" {
  for_each = {
    states    = "states.amazonaws.com"
    sagemaker = "sagemaker.amazonaws.com"
    glue      = "glue.amazonaws.com"
    lambda    = "lambda.amazonaws.com"
  }

  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = [each.value]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# -- Step Functions: runs both state machines --------------------------------------------------

resource "aws_iam_role" "states" {
  name               = "${var.prefix}-${var.pipeline_name}-states"
  assume_role_policy = data.aws_iam_policy_document.trust["states"].json
}

# Exactly what the Task states of the rendered definitions call (`make render`):
# sagemaker:createHyperParameterTuningJob.sync, aws-sdk:sagemaker:describeTrainingJob (the best
# trial), sagemaker:createModel and sagemaker:createTransformJob.sync. A .sync task polls the job's
# Describe call, stops the job when the execution stops, and uses the job type's managed
# EventBridge rule.
data "aws_iam_policy_document" "states" {
  statement {
    sid       = "CreateTuningJobsOfThisPipeline"
    actions   = ["sagemaker:CreateHyperParameterTuningJob"]
    resources = [local.sagemaker_jobs.tuning]

    dynamic "condition" {
      for_each = local.job_network_conditions
      content {
        test     = condition.value.test
        variable = condition.value.variable
        values   = condition.value.values
      }
    }
  }

  statement {
    sid       = "CreateModelsOfThisPipeline"
    actions   = ["sagemaker:CreateModel"]
    resources = [local.sagemaker_jobs.model]

    dynamic "condition" {
      for_each = local.job_network_conditions
      content {
        test     = condition.value.test
        variable = condition.value.variable
        values   = condition.value.values
      }
    }
  }

  statement {
    sid       = "CreateTransformJobsOfThisPipeline"
    actions   = ["sagemaker:CreateTransformJob"]
    resources = [local.sagemaker_jobs.batch]

    # A transform job runs with its model's network settings: only this pipeline's models.
    dynamic "condition" {
      for_each = local.job_network
      content {
        test     = "ArnLike"
        variable = "sagemaker:ModelArn"
        values   = [local.sagemaker_jobs.model]
      }
    }
  }

  statement {
    sid = "FollowAndStopTheSyncJobs"
    actions = [
      "sagemaker:DescribeHyperParameterTuningJob", "sagemaker:StopHyperParameterTuningJob",
      "sagemaker:DescribeTransformJob", "sagemaker:StopTransformJob",
    ]
    resources = [local.sagemaker_jobs.tuning, local.sagemaker_jobs.batch]
  }

  statement {
    sid       = "DescribeTheBestTrainingJob"
    actions   = ["sagemaker:DescribeTrainingJob"]
    resources = [local.sagemaker_jobs.training] # tuning trials are named after their tuning job
  }

  statement {
    sid       = "TagsOfThisPipelinesJobs"
    actions   = ["sagemaker:AddTags", "sagemaker:ListTags"]
    resources = values(local.sagemaker_jobs)
  }

  statement {
    sid       = "PassOnlyTheSageMakerRoleToSageMaker"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.sagemaker.arn]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["sagemaker.amazonaws.com"]
    }
  }

  statement {
    sid     = "EventBridgeRulesThatSyncTasksUse"
    actions = ["events:PutTargets", "events:PutRule", "events:DescribeRule"]
    resources = [
      "${local.events_rule_arn}/StepFunctionsGetEventsForSageMakerTuningJobsRule",
      "${local.events_rule_arn}/StepFunctionsGetEventsForSageMakerTransformJobsRule",
    ]
  }

  # The model registry (registry.tf): the training workflow registers versions, both workflows read the
  # latest approved one. CreateModelPackage names the group; the version it creates is under it.
  statement {
    sid       = "RegisterAndReadModelVersions"
    actions   = ["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage"]
    resources = [local.model_package_group_arn, local.model_packages]
  }

  # ListModelPackages is authorized on model-package resources (Service Authorization Reference), but
  # which ARN a listing is checked against is not documented: this region's packages; the request names
  # the group.
  statement {
    sid       = "FindTheLatestApprovedVersion"
    actions   = ["sagemaker:ListModelPackages"]
    resources = ["${local.sagemaker_arn}:model-package/*"]
  }

  statement {
    sid       = "GlueTransformJob"
    actions   = ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"]
    resources = ["${local.glue_arn}:job/${local.glue_job_name}"]
  }

  statement {
    sid       = "GlueOutputCrawler"
    actions   = ["glue:StartCrawler"]
    resources = ["${local.glue_arn}:crawler/${local.glue_crawler_name}"]
  }

  statement {
    sid       = "ScoringChecksForARunningTraining"
    actions   = ["states:ListExecutions"]
    resources = [local.training_state_machine_arn]
  }

  # PinLandedObject copies the landed version (CopyObject reads it: GetObject, and GetObjectVersion for a
  # versionId) into the extracts store, which the Glue job then reads; Read*DataReport reads report.json.
  statement {
    sid       = "ReadLandedVersions"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${local.bucket_arns["feature_store"]}/*"] # read only: landed files are never modified
  }

  statement {
    sid       = "PinnedCopiesAndDataReportsInTheExtractsStore"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${local.bucket_arns["extracts"]}/${var.pipeline_name}/*"]
  }

  statement {
    sid       = "ListLandedAndExtractsForNoSuchKey"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arns["feature_store"], local.bucket_arns["extracts"]]
  }

  statement {
    sid       = "ApprovalRecordsInTheMetadataStore"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${local.bucket_arns["metadata"]}/${var.pipeline_name}/models/*"]
  }

  statement {
    sid       = "ListMetadataForNoSuchKey"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arns["metadata"]]
  }

  statement {
    sid       = "PublishPredictionsInTheOutputStore"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${local.bucket_arns["output"]}/${var.pipeline_name}/*"]
  }

  statement {
    sid       = "UseThePipelineKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.pipeline.arn]
  }

  # AWS requires Resource "*" for log delivery and X-Ray: these actions take no resource ARN.
  statement {
    sid = "ExecutionLogsAndTracesAwsRequiresStar"
    actions = [
      "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
      "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "states" {
  name   = "run-${var.pipeline_name}-workflows"
  role   = aws_iam_role.states.id
  policy = data.aws_iam_policy_document.states.json
}

# -- SageMaker: training, tuning trials and batch transform ------------------------------------

resource "aws_iam_role" "sagemaker" {
  name               = "${var.prefix}-${var.pipeline_name}-sagemaker"
  assume_role_policy = data.aws_iam_policy_document.trust["sagemaker"].json
}

data "aws_iam_policy_document" "sagemaker" {
  statement {
    sid       = "ReadExtractsAndModels"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arns["extracts"]}/${var.pipeline_name}/*", "${local.bucket_arns["model"]}/${var.pipeline_name}/*"]
  }

  statement {
    sid       = "ListExtractsAndModels"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arns["extracts"], local.bucket_arns["model"]]
  }

  statement {
    sid       = "WriteModelArtifactsAndPredictions"
    actions   = ["s3:PutObject"]
    resources = ["${local.bucket_arns["model"]}/${var.pipeline_name}/*", "${local.bucket_arns["output"]}/${var.pipeline_name}/*"]
  }

  statement {
    sid       = "PullTheModelImage"
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = [aws_ecr_repository.model.arn]
  }

  statement {
    sid       = "JobLogs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${local.logs_arn}:log-group:/aws/sagemaker/*"]
  }

  statement {
    sid       = "UseThePipelineKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [aws_kms_key.pipeline.arn]
  }

  # AWS requires Resource "*": registry login and metric publishing take no resource ARN.
  statement {
    sid       = "RegistryLoginAndMetricsAwsRequiresStar"
    actions   = ["ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"]
    resources = ["*"]
  }

  # sagemaker_job_network set: SageMaker attaches the jobs to the VPC through network interfaces
  # it creates in the given subnets and security groups.
  dynamic "statement" {
    for_each = local.job_network
    content {
      sid = "JobNetworkInterfacesInTheVpc"
      actions = [
        "ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission",
        "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission",
      ]
      resources = concat(
        ["${local.ec2_arn}:network-interface/*"],
        [for id in statement.value.subnet_ids : "${local.ec2_arn}:subnet/${id}"],
        [for id in statement.value.security_group_ids : "${local.ec2_arn}:security-group/${id}"],
      )
    }
  }

  # AWS requires Resource "*": the EC2 Describe calls take no resource ARN.
  dynamic "statement" {
    for_each = local.job_network
    content {
      sid = "VpcLookupsAwsRequiresStar"
      actions = [
        "ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups",
      ]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "sagemaker" {
  name   = "train-and-score-${var.pipeline_name}"
  role   = aws_iam_role.sagemaker.id
  policy = data.aws_iam_policy_document.sagemaker.json
}

# -- Glue: the transform job and the output crawler ---------------------------------------------

resource "aws_iam_role" "glue" {
  name               = "${var.prefix}-${var.pipeline_name}-glue"
  assume_role_policy = data.aws_iam_policy_document.trust["glue"].json
}

data "aws_iam_policy_document" "glue" {
  statement {
    sid     = "ReadLandedFilesScriptsExtractsAndPredictions"
    actions = ["s3:GetObject"]
    resources = [
      "${local.bucket_arns["feature_store"]}/*", # read only: landed files are never modified
      "${local.bucket_arns["source_repository"]}/glue_transforms/*",
      "${local.bucket_arns["extracts"]}/${var.pipeline_name}/*",
      "${local.bucket_arns["output"]}/${var.pipeline_name}/predictions/*",
    ]
  }

  statement {
    sid     = "ListTheStoresItReads"
    actions = ["s3:ListBucket"]
    resources = [
      local.bucket_arns["feature_store"], local.bucket_arns["source_repository"],
      local.bucket_arns["extracts"], local.bucket_arns["output"],
    ]
  }

  statement {
    sid       = "WriteExtracts"
    actions   = ["s3:PutObject"]
    resources = ["${local.bucket_arns["extracts"]}/${var.pipeline_name}/*"]
  }

  statement {
    sid = "CatalogThePredictions"
    actions = [
      "glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:CreateTable", "glue:UpdateTable",
      "glue:GetPartition", "glue:GetPartitions", "glue:BatchCreatePartition", "glue:BatchGetPartition",
      "glue:UpdatePartition",
    ]
    resources = [
      "${local.glue_arn}:catalog",
      "${local.glue_arn}:database/${aws_glue_catalog_database.output.name}",
      "${local.glue_arn}:table/${aws_glue_catalog_database.output.name}/*",
    ]
  }

  statement {
    sid     = "JobAndCrawlerLogs"
    actions = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"]
    resources = [
      "${local.logs_arn}:log-group:/aws-glue/*",
    ]
  }

  statement {
    sid       = "UseThePipelineKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [aws_kms_key.pipeline.arn]
  }
}

resource "aws_iam_role_policy" "glue" {
  name   = "transform-and-crawl-${var.pipeline_name}"
  role   = aws_iam_role.glue.id
  policy = data.aws_iam_policy_document.glue.json
}

# -- Lambda: the landing handler ---------------------------------------------------------------

resource "aws_iam_role" "lambda" {
  name               = "${var.prefix}-${var.pipeline_name}-landing"
  assume_role_policy = data.aws_iam_policy_document.trust["lambda"].json
}

data "aws_iam_policy_document" "lambda" {
  statement {
    sid       = "StartTheTwoStateMachinesThroughTheirAlias"
    actions   = ["states:StartExecution"]
    resources = [local.training_state_machine_alias_arn, local.scoring_state_machine_alias_arn]
  }

  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.landing.arn}:*"]
  }

  statement {
    sid       = "DeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.landing_dead_letters.arn]
  }

  statement {
    sid       = "DecryptEnvironmentAndEncryptDeadLetters"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.pipeline.arn]
  }

  # AWS requires Resource "*" for X-Ray: these actions take no resource ARN.
  statement {
    sid       = "TracesAwsRequiresStar"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "lambda" {
  name   = "start-${var.pipeline_name}-executions"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.lambda.json
}
