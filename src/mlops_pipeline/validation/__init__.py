"""Offline validation of rendered state machines against AWS's rules, before anything is deployed.

``validate_definitions`` checks definitions (the dicts the builders render) and, given the Terraform
module, the Step Functions role's grants; ``validate_workflow`` loads a workflow file, renders it and
does the same. Each module checks one thing (docs/validation.md lists the rules and their sources):

- ``asl`` (structure), ``limits`` (Step Functions' limits), ``parameters`` (Task parameters against
  botocore's request shapes), ``dataflow`` (every path a state reads exists, on every way in),
  ``retriers`` (Retry/Catch error names), ``iam`` with ``terraform`` (needed and granted actions).

Nothing here calls AWS or needs credentials; botocore, python-hcl2 and jsonata are imported when used.
"""

from __future__ import annotations

import re
from pathlib import Path

from mlops_pipeline.errors import PipelineError
from mlops_pipeline.validation import asl, dataflow, iam, limits, parameters, retriers
from mlops_pipeline.validation.findings import ERROR, WARNING, Finding, error, summary
from mlops_pipeline.validation.models import ServiceModels, UnknownApi

__all__ = ["ERROR", "WARNING", "Finding", "summary", "validate_definitions", "validate_workflow"]


def validate_definitions(definitions: dict[str, dict], target, terraform_dir: Path | None) -> list[Finding]:
    """Every finding in ``definitions`` (name -> ASL dict) for ``target``; IAM too when ``terraform_dir``
    is given. Deploy can call this before it changes anything: an error finding means AWS would refuse
    the definition or an execution would fail on it."""
    models = ServiceModels()
    start = dataflow.execution_input()
    findings, flows, readable = [], {}, {}
    for workflow, definition in definitions.items():
        structure = asl.structure_findings(workflow, definition)
        if structure:
            findings += structure
            continue
        readable[workflow] = definition
        found = limits.check(workflow, definition, models) + _parameters(workflow, definition, models)
        flows[workflow] = dataflow.analyse(workflow, definition, models, start)
        found += flows[workflow].findings
        for name, state, _ in asl.all_states(asl.top_machine(definition)):
            found += retriers.check(workflow, name, state)
        findings += _in_state_order(found, definition)
    if terraform_dir is not None:
        try:
            findings += iam.check(readable, flows, target, Path(terraform_dir))
        except PipelineError as problem:
            findings.append(error("terraform", "", "", f"the Step Functions role's grants cannot be read ({problem})"))
    return findings


def validate_workflow(workflow: Path, tf_outputs: Path | None, terraform_dir: Path | None) -> list[Finding]:
    """Load a workflow file (its own checks run then), render both definitions and validate them.

    A workflow that breaks its own rules is one finding; a missing workflow file or a bad ``tf_outputs``
    file raises PipelineError (bad input, not a finding).
    """
    from mlops_pipeline.builders import build_definitions
    from mlops_pipeline.config import load_workflow
    from mlops_pipeline.deploy import check_target_matches
    from mlops_pipeline.target import local_target, read_terraform_outputs_file

    if not Path(workflow).is_file():
        raise PipelineError(f"workflow file not found: {workflow}")
    try:
        config = load_workflow(workflow)
    except PipelineError as problem:
        return [_load_error(workflow, problem.headline)]
    target = read_terraform_outputs_file(tf_outputs) if tf_outputs else local_target(config.name)
    findings = []
    try:
        check_target_matches(config, target)
    except PipelineError as problem:
        findings.append(error(str(workflow), "PipelineConfig", "name", f"{problem.headline} (found {config.name})"))
    definitions = {str(kind): definition for kind, definition in build_definitions(config, target).items()}
    return findings + validate_definitions(definitions, target, terraform_dir)


def _load_error(workflow: Path, headline: str) -> Finding:
    """``<file>[:line]: <what config.load_workflow said>``."""
    match = re.match(rf"^({re.escape(str(workflow))}(?::\d+)?): (.*)$", headline)
    if match:
        return error(match.group(1), "", "", match.group(2))
    return error(str(workflow), "", "", headline)


def _parameters(workflow: str, definition: dict, models: ServiceModels) -> list[Finding]:
    findings = []
    for name, state, machine in asl.all_states(asl.top_machine(definition)):
        resource = asl.integration(state.get("Resource")) if state.get("Type") == "Task" else None
        if resource is None:
            continue
        try:
            binding = models.bind(resource)
        except UnknownApi:
            continue  # reported once, by the data-flow check
        jsonata = asl.query_language(state, machine) == asl.JSONATA
        key = "Arguments" if jsonata else "Parameters"
        if binding is None or key not in state:
            continue
        for field, message in parameters.check(binding, state[key], key, jsonata):
            findings.append(error(workflow, name, field, message))
    return findings


def _in_state_order(findings: list[Finding], definition: dict) -> list[Finding]:
    """Findings grouped by state, in the definition's order (definition-wide ones first)."""
    order = {name: index for index, (name, _, _) in enumerate(asl.all_states(asl.top_machine(definition)))}
    return sorted(findings, key=lambda finding: order.get(finding.state, -1))
