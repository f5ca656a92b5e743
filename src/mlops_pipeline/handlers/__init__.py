"""Lambda handlers: standard library and boto3 only, shipped alone in the Lambda zip."""
