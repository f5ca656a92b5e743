# The model registry: one SageMaker Model Package Group per pipeline (mlops_pipeline.naming
# model_package_group_name). The training state machine registers every quality-gate decision in it
# (Approved, Rejected with the gate's reason, or PendingManualApproval when a newer landing's model is
# approved already); scoring uses its latest approved version. `mlops-pipeline models approve|reject`
# changes a version's status with sagemaker:UpdateModelPackage, a permission of the user, not of a role here.

locals {
  model_package_group_name = "${var.pipeline_name}-models"
  # Versions of a group are model-package/<group>/<version> (SageMaker API reference, ModelPackageArn).
  model_packages          = "${local.sagemaker_arn}:model-package/${local.model_package_group_name}/*"
  model_package_group_arn = "${local.sagemaker_arn}:model-package-group/${local.model_package_group_name}"
}

resource "aws_sagemaker_model_package_group" "registry" {
  model_package_group_name        = local.model_package_group_name
  model_package_group_description = "Models of the ${var.pipeline_name} pipeline, one version per quality-gate decision."
}
