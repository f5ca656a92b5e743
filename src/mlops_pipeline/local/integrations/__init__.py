"""The local integrations: one module per AWS integration, each declaring the Task resources it serves.

A Task resource is the part of its ARN after ``arn:aws:states:::`` (``glue:startJobRun.sync``,
``aws-sdk:s3:getObject``). :func:`serves` marks the function that serves it, next to that function;
:class:`IntegrationTable` collects the marked functions of a list of modules. The table is the only
routing fact: the engine intercepts exactly the services it names, refuses a definition with a
resource it lacks, and every call goes through :meth:`IntegrationTable.dispatch`, the one place that
turns what an integration raises into the error AWS gives for that call.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable, Iterable, Mapping

from mlops_pipeline.aws_errors import AwsError, step_functions_cause, step_functions_error
from mlops_pipeline.errors import PipelineError
from mlops_pipeline.local.faults import Faults
from mlops_pipeline.local.services import LocalServices
from mlops_pipeline.local.stores import disk_full
from mlops_pipeline.local.tasks import TASK_FAILED, Dispatcher, TaskControl, TaskFailure, TaskStopped

#: An integration: (services, the Task's resolved Parameters, control) -> the AWS response shape.
Integration = Callable[[LocalServices, dict, TaskControl], Any]

#: Ahead of a Task: (services, its Parameters as far as they are known ahead (``ahead.py``), the control naming
#: the execution and state that will run it) -> None; best effort.
WarmUp = Callable[[LocalServices, dict, TaskControl], None]

#: The error Step Functions reports when the runtime itself cannot run a state.
RUNTIME_ERROR = "States.Runtime"


def serves(*resources: str, client_error: str, warm_up: WarmUp | None = None) -> Callable[[Integration], Integration]:
    """Mark a function as serving ``resources``; ``client_error`` is the API's error code for a request it
    refuses (``ValidationException``); ``warm_up``, if any, prepares what the Task will need from its Parameters
    as far as they are known, while the execution's earlier states run."""

    def mark(function: Integration) -> Integration:
        function.resources = resources  # type: ignore[attr-defined]
        function.client_error = client_error  # type: ignore[attr-defined]
        function.warm_up = warm_up  # type: ignore[attr-defined]
        return function

    return mark


@dataclass(frozen=True)
class IntegrationTable:
    """Resource -> the function that serves it."""

    routes: Mapping[str, Integration]

    @classmethod
    def from_modules(cls, modules: Iterable[ModuleType]) -> "IntegrationTable":
        routes: dict[str, Integration] = {}
        for module in modules:
            for function in vars(module).values():
                for resource in getattr(function, "resources", ()):
                    if resource in routes and routes[resource] is not function:
                        raise ValueError(
                            f"{resource} is served twice: {routes[resource].__module__} and {module.__name__}"
                        )
                    routes[resource] = function
        return cls(routes)

    @property
    def resources(self) -> list[str]:
        return sorted(self.routes)

    def supports(self, resource: str) -> bool:
        return resource in self.routes

    def dispatch(
        self,
        services: LocalServices,
        resource: str,
        parameters: dict,
        control: TaskControl,
        faults: Faults | None = None,
    ) -> Any:
        """Serve one Task; whatever the integration raises leaves as the error AWS would give: an API error
        under the name Step Functions reports for that integration (``aws_errors``)."""
        integration = self.routes.get(resource)
        if integration is None:
            raise TaskFailure(RUNTIME_ERROR, f"the local runtime cannot serve {resource}")
        try:
            if faults is not None:
                faults.take(resource, control.state_name)
            return integration(services, parameters, control)
        except (TaskFailure, TaskStopped):
            raise
        except KeyError as missing:
            raise TaskFailure(RUNTIME_ERROR, f"{resource}: missing parameter {missing}") from None
        except PipelineError as refused:
            raise reported(resource, AwsError(integration.client_error, refused.headline)) from None  # type: ignore[attr-defined]
        except AwsError as error:
            raise reported(resource, error) from None
        except OSError as error:
            full = disk_full(error)
            if full is None:
                raise
            raise TaskFailure(TASK_FAILED, full) from None  # the job fails, as one whose disk filled does

    def warms_up(self, resource: str) -> bool:
        """Whether the integration serving ``resource`` prepares ahead of its Task."""
        return getattr(self.routes.get(resource), "warm_up", None) is not None

    def warm_up(self, services: LocalServices, tasks: Iterable[tuple[str, dict, TaskControl]]) -> None:
        """Let the integrations of Tasks to come ((resource, Parameters as far as known, control) triples)
        prepare ahead, e.g. start a fork server while the Glue job runs. Best effort: what cannot be prepared
        is left to the Task, which reports any problem itself."""
        for resource, parameters, control in tasks:
            if self.warms_up(resource):
                try:
                    self.routes[resource].warm_up(services, parameters, control)  # type: ignore[attr-defined]
                except (PipelineError, AwsError, TaskStopped, OSError):
                    pass

    def dispatcher(self, services: LocalServices, faults: Faults | None = None) -> Dispatcher:
        """The engine's callback for one session's services (and the faults to inject, if any)."""
        return lambda resource, parameters, control: self.dispatch(services, resource, parameters, control, faults)


def reported(resource: str, error: AwsError) -> TaskFailure:
    """An API error as the Task on ``resource`` reports it to Step Functions."""
    return TaskFailure(step_functions_error(resource, error.code), step_functions_cause(resource, error))


def default_table() -> IntegrationTable:
    """Every integration this package serves."""
    from mlops_pipeline.local.integrations import (
        glue_crawler,
        glue_job,
        s3,
        sagemaker_endpoint,
        sagemaker_model,
        sagemaker_registry,
        sagemaker_training,
        sagemaker_transform,
        sagemaker_tuning,
        sfn,
    )

    return IntegrationTable.from_modules(
        [
            glue_job,
            glue_crawler,
            sagemaker_training,
            sagemaker_tuning,
            sagemaker_model,
            sagemaker_endpoint,
            sagemaker_registry,
            sagemaker_transform,
            s3,
            sfn,
        ]
    )
