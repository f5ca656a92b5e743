"""``aws-sdk:sfn:*`` calls, answered by the in-process Step Functions service in AWS's PascalCase."""

from __future__ import annotations

from mlops_pipeline.aws_errors import AwsError
from mlops_pipeline.local.integrations import serves
from mlops_pipeline.local.services import LocalServices
from mlops_pipeline.local.tasks import TaskControl

CLIENT_ERROR = "InvalidArn"


@serves("aws-sdk:sfn:listExecutions", client_error=CLIENT_ERROR)
def list_executions(services: LocalServices, params: dict, control: TaskControl) -> dict:
    request = {"stateMachineArn": params["StateMachineArn"]}
    if "StatusFilter" in params:
        request["statusFilter"] = params["StatusFilter"]
    if "MaxResults" in params:
        request["maxResults"] = int(params["MaxResults"])
    try:
        response = services.sfn.list_executions(**request)
    except services.sfn.exceptions.StateMachineDoesNotExist as error:
        raise AwsError("StateMachineDoesNotExist", error.response["Error"]["Message"]) from None
    executions = [
        {
            "ExecutionArn": e["executionArn"],
            "StateMachineArn": e["stateMachineArn"],
            "Name": e["name"],
            "Status": e["status"],
            "StartDate": e["startDate"].isoformat(),
        }
        for e in response["executions"]
    ]
    return {"Executions": executions, **({"NextToken": response["nextToken"]} if response.get("nextToken") else {})}
