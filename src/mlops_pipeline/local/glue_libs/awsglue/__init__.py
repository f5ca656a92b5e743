"""The part of AWS Glue's ``awsglue`` package a Python shell script uses: ``awsglue.utils``."""
