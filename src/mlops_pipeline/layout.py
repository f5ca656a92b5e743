"""Where the pipeline keeps things: every key and prefix it reads or writes, relative to its store.

Standard library only: the builders, deploy, the local runtime, the CLI and the execution records
read these; ``tests/test_terraform.py`` holds the paths Terraform grants or configures against them,
and ``tests/test_glue_transform.py`` holds the Glue entry point's file names against them.

Keys that depend on the execution take the runtime value as an argument; builders pass :data:`SLOT`
(``{}``) to get a ``States.Format`` template, the local runtime passes the value itself.
"""

from __future__ import annotations

#: The placeholder builders pass for values known only at run time (a ``States.Format`` slot).
SLOT = "{}"

# -- the local runtime's workspace: ``s3://<bucket>/<key>`` lives under ``<workspace>/s3/`` ----------
WORKSPACE_ENV = "MLOPS_WORKSPACE"
DEFAULT_WORKSPACE = ".mlops"

# -- feature store (landed by users; never modified) --------------------------------------------
TRAINING_PREFIX = "data/train/"
SCORING_PREFIX = "data/score/"

# -- source repository ----------------------------------------------------------------------------
GLUE_SCRIPTS_PREFIX = "glue_transforms/"
#: The Glue job's script: reads, validates, transforms and writes the extract.
GLUE_ENTRY_SCRIPT = "run_transform.py"

# -- extracts: what the Glue job writes under ``<pipeline>/<job stem>/`` ---------------------------
TRAIN_CHANNEL = "train"
VALIDATION_CHANNEL = "validation"
SCORE_CHANNEL = "score"
TRAIN_FILE = f"{TRAIN_CHANNEL}/train.csv"
VALIDATION_FILE = f"{VALIDATION_CHANNEL}/validation.csv"
SCORE_FILE = f"{SCORE_CHANNEL}/score.csv"
SCHEMA_FILE = f"{TRAIN_CHANNEL}/schema.json"
#: The batch transform's output folder (in the output store), under ``<pipeline>/<job stem>/``.
TRANSFORM_OUTPUT = "transform"


def pipeline_prefix(pipeline: str) -> str:
    """Everything a pipeline writes in the extracts, model and output stores is under this."""
    return f"{pipeline}/"


def job_prefix(pipeline: str, job_stem: str) -> str:
    """One landed object's extract (extracts store), models (model store) and transform output (output store)."""
    return f"{pipeline}/{job_stem}/"


def channel_prefix(pipeline: str, job_stem: str, channel: str) -> str:
    return f"{job_prefix(pipeline, job_stem)}{channel}/"


def schema_key(pipeline: str, job_stem: str) -> str:
    """The training schema (feature order, category levels) scoring transforms with."""
    return f"{job_prefix(pipeline, job_stem)}{SCHEMA_FILE}"


def transform_output_key(pipeline: str, job_stem: str) -> str:
    """Batch transform writes ``<input file>.out`` for the scoring extract."""
    return f"{channel_prefix(pipeline, job_stem, TRANSFORM_OUTPUT)}{SCORE_FILE.rsplit('/', 1)[-1]}.out"


# -- metadata -----------------------------------------------------------------------------------


def models_prefix(pipeline: str) -> str:
    return f"{pipeline}/models/"


def latest_model_key(pipeline: str) -> str:
    """The latest approved model record, which scoring resolves."""
    return f"{models_prefix(pipeline)}latest.json"


def approval_key(pipeline: str, execution: str) -> str:
    """The immutable approval record of one training execution."""
    return f"{models_prefix(pipeline)}executions/{execution}.json"


def executions_prefix(pipeline: str) -> str:
    """Local execution records: ``<name>/execution.json``, ``history*.json``, ``logs/``."""
    return f"{pipeline}/executions/"


def catalog_key(pipeline: str) -> str:
    """What the local output crawler recorded (the tables Athena would see)."""
    return f"{pipeline}/catalog/tables.json"


# -- output ---------------------------------------------------------------------------------------


def predictions_prefix(pipeline: str) -> str:
    """One readable CSV per landed scoring file; the crawler's target."""
    return f"{pipeline}/predictions/"


def store_prefixes(pipeline: str) -> dict[str, tuple[str, ...]]:
    """Every prefix the pipeline reads or writes, per store (what IAM grants may be scoped to)."""
    return {
        "feature_store": ("", TRAINING_PREFIX, SCORING_PREFIX),
        "source_repository": (GLUE_SCRIPTS_PREFIX, f"{GLUE_SCRIPTS_PREFIX}{GLUE_ENTRY_SCRIPT}"),
        "extracts": (pipeline_prefix(pipeline),),
        "model": (pipeline_prefix(pipeline),),
        "metadata": (models_prefix(pipeline), executions_prefix(pipeline), catalog_key(pipeline)),
        "output": (pipeline_prefix(pipeline), predictions_prefix(pipeline)),
    }
