"""Where the pipeline keeps things: every key and prefix it reads or writes, relative to its store.

Standard library only: the builders, deploy, the local runtime, the CLI and the execution records
read these; ``tests/test_terraform.py`` holds the paths Terraform grants or configures against them,
and ``tests/test_glue_transform.py`` holds the Glue entry point's file names against them.

Keys that depend on the execution take the runtime value as an argument; builders pass :data:`SLOT`
(``{}``) to get a ``States.Format`` template, the local runtime passes the value itself.
"""

from __future__ import annotations

from pathlib import Path

#: The placeholder builders pass for values known only at run time (a ``States.Format`` slot).
SLOT = "{}"

#: The Terraform module (relative to where commands run): deploy reads its outputs, validation its IAM.
TERRAFORM_DIR = Path("infra/terraform")

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
#: ``mlops_pipeline/data_checks.py`` under the name the entry script imports it by, beside it.
DATA_CHECKS_MODULE = "mlops_data_checks.py"

# -- extracts: what the Glue job writes under ``<pipeline>/<job stem>/`` ---------------------------
TRAIN_CHANNEL = "train"
VALIDATION_CHANNEL = "validation"
SCORE_CHANNEL = "score"
TRAIN_FILE = f"{TRAIN_CHANNEL}/train.csv"
VALIDATION_FILE = f"{VALIDATION_CHANNEL}/validation.csv"
SCORE_FILE = f"{SCORE_CHANNEL}/score.csv"
SCHEMA_FILE = f"{TRAIN_CHANNEL}/schema.json"
#: What the Glue job found besides errors (warnings, class counts, baseline metrics), read into the execution.
REPORT_FILE = "report.json"
#: The batch transform's output folder (in the output store), under ``<pipeline>/<job stem>/``.
TRANSFORM_OUTPUT = "transform"


def glue_scripts(glue_dir: Path) -> list[tuple[str, Path]]:
    """(name under ``GLUE_SCRIPTS_PREFIX``, file) of what deploy uploads: the project's ``glue_transforms/*.py``
    and the data checks the entry script imports."""
    scripts = [(path.name, path) for path in sorted(glue_dir.glob("*.py"))]
    return [*scripts, (DATA_CHECKS_MODULE, Path(__file__).with_name("data_checks.py"))]


def pipeline_prefix(pipeline: str) -> str:
    """Everything a pipeline writes in the extracts, model and output stores is under this."""
    return f"{pipeline}/"


def job_prefix(pipeline: str, job_stem: str) -> str:
    """One landed object's extract (extracts store), models (model store) and transform output (output store)."""
    return f"{pipeline}/{job_stem}/"


def channel_prefix(pipeline: str, job_stem: str, channel: str) -> str:
    return f"{job_prefix(pipeline, job_stem)}{channel}/"


def landed_copy_key(pipeline: str, job_stem: str, key: str) -> str:
    """The execution's own copy of the landed object's version: what its Glue job reads, so a file landed
    again meanwhile cannot change what this execution sees (the feature store itself is never written)."""
    return f"{job_prefix(pipeline, job_stem)}landed/{key}"


def report_key(pipeline: str, job_stem: str) -> str:
    return f"{job_prefix(pipeline, job_stem)}{REPORT_FILE}"


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


def execution_report_key(pipeline: str, execution: str) -> str:
    """The HTML report of one execution, beside its records (``mlops-pipeline report``)."""
    return f"{executions_prefix(pipeline)}{execution}/report.html"


def notifications_key(pipeline: str) -> str:
    """Local failure notices, one JSON line each (on AWS they are published to the failures topic)."""
    return f"{pipeline}/notifications/failures.jsonl"


def catalog_key(pipeline: str) -> str:
    """What the local output crawler recorded (the tables Athena would see)."""
    return f"{pipeline}/catalog/tables.json"


# -- output ---------------------------------------------------------------------------------------


def predictions_prefix(pipeline: str) -> str:
    """The crawler's target: one table of every scoring run, partitioned by ``run`` (the job stem)."""
    return f"{pipeline}/predictions/"


def predictions_key(pipeline: str, job_stem: str, file_name: str) -> str:
    """The predictions of one landed scoring file's version: never overwritten."""
    return f"{predictions_prefix(pipeline)}run={job_stem}/{file_name}"


def latest_predictions_key(pipeline: str, file_name: str) -> str:
    """A stable name for the newest predictions of a scoring file name."""
    return f"{pipeline}/latest-predictions/{file_name}"


def store_prefixes(pipeline: str) -> dict[str, tuple[str, ...]]:
    """Every prefix the pipeline reads or writes, per store (what IAM grants may be scoped to)."""
    return {
        "feature_store": ("", TRAINING_PREFIX, SCORING_PREFIX),
        "source_repository": (
            GLUE_SCRIPTS_PREFIX,
            f"{GLUE_SCRIPTS_PREFIX}{GLUE_ENTRY_SCRIPT}",
            f"{GLUE_SCRIPTS_PREFIX}{DATA_CHECKS_MODULE}",
        ),
        "extracts": (pipeline_prefix(pipeline),),
        "model": (pipeline_prefix(pipeline),),
        "metadata": (models_prefix(pipeline), executions_prefix(pipeline), catalog_key(pipeline)),
        "output": (pipeline_prefix(pipeline), predictions_prefix(pipeline), latest_predictions_key(pipeline, "")),
    }
