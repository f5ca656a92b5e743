"""What AWS Glue puts on a Python shell job's path, for local runs: ``awsglue`` (this folder is added to
``PYTHONPATH`` of every local Glue job run, so ``from awsglue.utils import getResolvedOptions`` works)."""
