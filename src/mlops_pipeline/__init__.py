"""mlops-pipeline: production ML pipelines on AWS Step Functions, edited as Python."""

__version__ = "0.1.0"
