#!/usr/bin/env bash
# Build the image and push it to ECR in the current account and region.
#   ./build_and_push.sh IMAGE_NAME [TAG]      (TAG defaults to 1.0; tags are immutable in ECR)
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 || "$1" == -* ]]; then
  echo "usage: $0 IMAGE_NAME [TAG]" >&2
  echo "  builds $(dirname "$0") and pushes it to <account>.dkr.ecr.<region>.amazonaws.com/IMAGE_NAME:TAG" >&2
  exit 2
fi

image="$1"
tag="${2:-1.0}"
here="$(cd "$(dirname "$0")" && pwd)"

account="$(aws sts get-caller-identity --query Account --output text)"
region="$(aws configure get region || true)"
region="${region:-${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}}"
registry="${account}.dkr.ecr.${region}.amazonaws.com"
uri="${registry}/${image}:${tag}"

if ! aws ecr describe-repositories --repository-names "${image}" --region "${region}" >/dev/null 2>&1; then
  echo "creating ECR repository ${image}"
  aws ecr create-repository --repository-name "${image}" --region "${region}" \
    --image-scanning-configuration scanOnPush=true --image-tag-mutability IMMUTABLE >/dev/null
fi

aws ecr get-login-password --region "${region}" | docker login --username AWS --password-stdin "${registry}"
docker build -t "${image}:${tag}" "${here}"
docker tag "${image}:${tag}" "${uri}"
docker push "${uri}"
echo "pushed ${uri}"
