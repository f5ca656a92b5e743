"""Workflow builders: pipeline configuration + deploy target → Amazon States Language.

The rendered JSON is the contract: deploy sends these bytes to AWS Step Functions and the
local runtime runs the same bytes. Building makes no network call and needs no credentials.
"""

from __future__ import annotations

import json

from mlops_pipeline.config import PipelineConfig
from mlops_pipeline.naming import Workflow
from mlops_pipeline.target import Target


def build_definitions(config: PipelineConfig, target: Target) -> dict[Workflow, dict]:
    """Both state machine definitions of a pipeline."""
    from mlops_pipeline.builders.scoring import build_scoring
    from mlops_pipeline.builders.training import build_training

    return {Workflow.TRAINING: build_training(config, target), Workflow.SCORING: build_scoring(config, target)}


def definition_json(definition: dict) -> str:
    """The canonical text of a definition: what is deployed, run locally and kept as golden file."""
    return json.dumps(definition, indent=2, ensure_ascii=False) + "\n"
