"""Typed pipeline configuration, validated when a workflow file is loaded.

A workflow file in ``workflows/`` builds a :class:`PipelineConfig` and assigns it to
``PIPELINE``. Every mistake is reported as one line naming the file, the field and the
allowed values, before anything is rendered or deployed.
"""

from __future__ import annotations

import json
import re
import runpy
import traceback
from pathlib import Path
from typing import Annotated, Literal, Optional, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from mlops_pipeline.errors import PipelineError
from mlops_pipeline.naming import max_pipeline_name_length

#: Metrics whose values are probabilities or rates, so a gate threshold must lie in [0, 1].
PROBABILITY_METRICS = frozenset(
    {"accuracy", "balanced_accuracy", "roc_auc", "auc", "pr_auc", "f1", "precision", "recall"}
)
#: What the example container prints, one ``name: value`` line each.
DEFAULT_METRICS = ("accuracy", "roc_auc", "f1", "precision", "recall", "logloss")
HyperparameterValue = Union[bool, int, float, str]
#: Static plus tuned hyperparameters a tuning job's training jobs may have (SageMaker's limit).
MAX_HYPERPARAMETERS = 100
METRIC_NAME = r"[A-Za-z][A-Za-z0-9_:.\-/]*"
#: An address SNS can mail: one '@', no spaces, a dotted domain.
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
#: SNS's https protocol: "The endpoint is a URL beginning with https://" (SNS Subscribe, Endpoint).
HTTPS_URL = r"^https://[^\s/]+(/\S*)?$"
#: The local webhook: http or https (tests and local receivers listen on plain http).
WEBHOOK_URL = r"^https?://[^\s/]+(/\S*)?$"
MAX_ENDPOINT_CHARS = 2048


class _Settings(BaseModel):
    """Strict base: unknown fields are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class MetricDefinition(_Settings):
    """A metric the container prints, found in its log with a regex whose first group is the value (as
    SageMaker's MetricDefinitions); a bare name in ``metrics`` means the regex ``\\bname: (number)``."""

    name: str = Field(pattern=f"^{METRIC_NAME}$", max_length=255)
    regex: str = Field(min_length=1, max_length=500)

    @field_validator("regex")
    @classmethod
    def _one_group(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as error:
            raise ValueError(f"regex {value!r} does not compile: {error}") from None
        if compiled.groups < 1:
            raise ValueError(f"regex {value!r} needs a group that captures the value, e.g. auc=([0-9.]+)")
        return value


Policy = Literal["error", "warning", "off"]
CheckName = Literal[
    "min_rows", "class_count", "text_in_numeric", "thousands_separators", "unseen_categories", "label_in_scoring"
]


class DataChecks(_Settings):
    """How landed files are checked before any compute (``mlops_pipeline.data_checks``): the minimums, and a
    policy per check (``error`` stops the run, ``warning`` is reported and the run goes on, ``off``)."""

    min_rows: int = Field(default=20, ge=2, le=10_000_000)
    min_class_count: int = Field(default=5, ge=1, le=1_000_000)
    policies: dict[CheckName, Policy] = Field(default_factory=dict)


class DataSchema(_Settings):
    """Columns of the landed CSV files that the pipeline itself must know about, and how they are checked.

    The label becomes 0/1: with ``positive`` the value that means 1 (the one other value means 0), with
    ``label_values`` an explicit map, else it must already be 0 or 1. Case and surrounding spaces of
    label values do not matter.
    """

    label: str = Field(min_length=1, description="Label column in training files.")
    id_column: str = Field(min_length=1, description="Row identifier kept to join predictions back.")
    positive: Optional[str] = Field(default=None, min_length=1, description="The label value of the positive class.")
    label_values: Optional[dict[str, Literal[0, 1]]] = Field(default=None, min_length=2)
    checks: DataChecks = DataChecks()

    @model_validator(mode="after")
    def _distinct(self) -> "DataSchema":
        if self.label == self.id_column:
            raise ValueError(f"label and id_column must differ (both are {self.label!r})")
        if self.positive is not None and self.label_values is not None:
            raise ValueError("give either positive or label_values, not both")
        if self.label_values is not None and set(self.label_values.values()) != {0, 1}:
            raise ValueError("label_values must map at least one value to 1 and one to 0")
        folded: dict[str, int] = {}
        for name, number in (self.label_values or {}).items():
            if folded.setdefault(name.strip().casefold(), number) != number:
                raise ValueError(f"label_values maps {name!r} both ways once case and spaces are ignored")
        return self

    def checks_json(self, max_payload_mb: int) -> str:
        """The settings the Glue job's checks need, as its ``--DATA_CHECKS`` argument; ``max_payload_mb`` (the
        inference setting) bounds a value, as batch transform's requests do."""
        settings = {
            "positive": self.positive,
            "label_values": self.label_values,
            "min_rows": self.checks.min_rows,
            "min_class_count": self.checks.min_class_count,
            "policies": dict(self.checks.policies),
            "max_payload_mb": max_payload_mb,
        }
        return json.dumps({k: v for k, v in settings.items() if v is not None}, separators=(",", ":"), sort_keys=True)


class TransformSettings(_Settings):
    """The Glue transform: which script in ``glue_transforms/``, how it runs, and its arguments.

    ``mode="module"`` (default): the script is a pandas module with ``learn_schema()``/``transform()`` that
    the project's Glue entry point (``run_transform.py``) imports; its extracts have no header.
    ``mode="script"``: the script is the Glue job itself, written for AWS Glue (``getResolvedOptions``,
    boto3 or awswrangler on ``s3://``); it must write the extract files the pipeline reads (see the README)
    and ``extract_header`` says whether they start with a header row.
    """

    script: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*\.py$", description="File in glue_transforms/.")
    mode: Literal["module", "script"] = "module"
    extract_header: bool = Field(default=False, description="The extracts start with a header row (script mode).")
    validation_fraction: float = Field(default=0.2, ge=0.0, lt=0.9)
    seed: int = Field(default=42, ge=0)
    arguments: dict[str, str] = Field(default_factory=dict, description="Extra --KEY value job arguments.")
    timeout_seconds: int = Field(
        default=3600,
        ge=60,
        le=172800,
        description="Longest Glue run: sent as StartJobRun's Timeout (minutes, rounded up; Glue allows 48 h).",
    )

    @property
    def timeout_minutes(self) -> int:
        return -(-self.timeout_seconds // 60)

    @field_validator("arguments")
    @classmethod
    def _argument_names(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not re.fullmatch(r"[A-Z][A-Z0-9_]*", key):
                raise ValueError(f"argument name {key!r} must be UPPER_SNAKE_CASE without leading dashes")
        return value

    @property
    def module(self) -> str:
        return self.script[: -len(".py")]

    @model_validator(mode="after")
    def _module_mode_has_no_header(self) -> "TransformSettings":
        if self.mode == "module" and self.extract_header:
            raise ValueError("extract_header applies to mode='script'; run_transform.py writes extracts without one")
        return self


#: A metric the container prints: a name for ``name: value`` lines, or a MetricDefinition with its regex.
Metric = Annotated[
    Union[Annotated[str, Tag("name")], Annotated[MetricDefinition, Tag("definition")]],
    Discriminator(lambda value: "name" if isinstance(value, str) else "definition"),
]


class ModelSettings(_Settings):
    """The training container, its static hyperparameters and the metrics it prints."""

    image: str = Field(
        min_length=1,
        description="ECR repository name with tag in this account (byo-xgboost:1.0) or a full image URI.",
    )
    instance_type: str = Field(default="ml.m5.large", pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    instance_count: int = Field(default=1, ge=1, le=20)
    volume_size_gb: int = Field(default=10, ge=1, le=16384)
    max_runtime_seconds: int = Field(default=3600, ge=60, le=432000)
    hyperparameters: dict[Annotated[str, StringConstraints(min_length=1, max_length=256)], HyperparameterValue] = Field(
        default_factory=dict
    )
    metrics: tuple[Metric, ...] = Field(default=DEFAULT_METRICS, min_length=1, max_length=40)
    network_isolation: bool = Field(
        default=False,
        description="Run training and batch transform containers without network access (EnableNetworkIsolation); "
        "always on when Terraform puts the jobs in a VPC (sagemaker_job_network).",
    )

    @field_validator("hyperparameters")
    @classmethod
    def _value_lengths(cls, value: dict) -> dict:
        long = [name for name, item in value.items() if len(str(item)) > 2500]
        if long:
            raise ValueError(f"hyperparameter {long[0]!r}: values are at most 2500 characters (SageMaker's limit)")
        return value

    @field_validator("image")
    @classmethod
    def _image_has_tag(cls, value: str) -> str:
        if ":" not in value.rsplit("/", 1)[-1] and "@" not in value:
            raise ValueError(
                f"image {value!r} needs a tag (ECR repositories here use immutable tags), e.g. {value}:1.0"
            )
        return value

    @field_validator("metrics")
    @classmethod
    def _metric_names(cls, value: tuple) -> tuple:
        for metric in value:
            if isinstance(metric, str) and not re.fullmatch(r"[a-z][a-z0-9_:]*", metric):
                raise ValueError(f"metric name {metric!r} must be lowercase letters, digits, '_' or ':'")
        names = [m if isinstance(m, str) else m.name for m in value]
        if len(set(names)) != len(names):
            raise ValueError("metric names must be unique")
        return value

    @property
    def metric_names(self) -> tuple[str, ...]:
        return tuple(m if isinstance(m, str) else m.name for m in self.metrics)


class ContinuousRange(_Settings):
    type: Literal["continuous"] = "continuous"
    name: str = Field(min_length=1)
    min: float
    max: float
    scaling: Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"] = "Auto"

    @model_validator(mode="after")
    def _bounds(self) -> "ContinuousRange":
        _check_bounds(self.name, self.min, self.max, self.scaling)
        if self.scaling == "ReverseLogarithmic" and not (0 <= self.min and self.max < 1):
            raise ValueError(f"range {self.name!r}: ReverseLogarithmic scaling needs 0 <= min < max < 1")
        return self


class IntegerRange(_Settings):
    type: Literal["integer"] = "integer"
    name: str = Field(min_length=1)
    min: int
    max: int
    scaling: Literal["Auto", "Linear", "Logarithmic"] = "Auto"

    @model_validator(mode="after")
    def _bounds(self) -> "IntegerRange":
        _check_bounds(self.name, self.min, self.max, self.scaling)
        return self


class CategoricalRange(_Settings):
    type: Literal["categorical"] = "categorical"
    name: str = Field(min_length=1)
    values: tuple[str, ...] = Field(min_length=1, max_length=30)

    @field_validator("values")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("categorical values must be unique")
        long = [v for v in value if len(v) > 256]
        if long:
            raise ValueError(f"categorical values are at most 256 characters (SageMaker's limit): {long[0][:40]}...")
        return value


def _check_bounds(name: str, low: float, high: float, scaling: str) -> None:
    if not low < high:
        raise ValueError(f"range {name!r}: min ({low}) must be less than max ({high})")
    if scaling == "Logarithmic" and low <= 0:
        raise ValueError(f"range {name!r}: Logarithmic scaling needs min > 0 (got {low})")


ParameterRange = Annotated[Union[ContinuousRange, IntegerRange, CategoricalRange], Field(discriminator="type")]


class TuningSettings(_Settings):
    """Hyperparameter tuning: strategy, objective, limits and the ranges searched."""

    strategy: Literal["Bayesian", "Random", "Grid"] = "Bayesian"
    objective_metric: str = Field(min_length=1)
    objective_type: Literal["Maximize", "Minimize"] = "Maximize"
    max_jobs: Optional[int] = Field(default=None, ge=1, le=500)
    max_parallel_jobs: int = Field(default=2, ge=1, le=100)
    ranges: tuple[ParameterRange, ...] = Field(
        min_length=1, max_length=30, description="SageMaker tunes at most 30 hyperparameters in all."
    )
    timeout_seconds: int = Field(default=4 * 3600, ge=1, le=30 * 86400)
    seed: Optional[int] = Field(
        default=None, ge=0, le=2**31 - 1, description="SageMaker's RandomSeed: the same trials every run."
    )

    @model_validator(mode="after")
    def _consistent(self) -> "TuningSettings":
        names = [r.name for r in self.ranges]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"parameter ranges are declared twice: {', '.join(duplicates)}")
        if self.strategy == "Grid":
            _check_grid(self)
        elif self.max_jobs is None:
            raise ValueError(f"max_jobs is required with the {self.strategy} strategy")
        elif self.max_parallel_jobs > self.max_jobs:
            raise ValueError(f"max_parallel_jobs ({self.max_parallel_jobs}) exceeds max_jobs ({self.max_jobs})")
        return self


def _check_grid(tuning: TuningSettings) -> None:
    """SageMaker's Grid strategy searches categorical ranges only and sizes the job itself."""
    other = [r.name for r in tuning.ranges if not isinstance(r, CategoricalRange)]
    if other:
        raise ValueError(f"the Grid strategy takes categorical ranges only; not categorical: {', '.join(other)}")
    if tuning.max_jobs is not None:
        raise ValueError("max_jobs must be left unset with the Grid strategy (it runs every combination)")


class QualityGate(_Settings):
    """The approval rule for the best training job: ``metric comparison threshold``; better than a model
    that learnt nothing (the majority class, a constant score) on the same validation data; and, when a
    model is approved already, not worse than it by more than ``champion_margin``."""

    metric: Optional[str] = Field(default=None, description="Defaults to the tuning objective metric.")
    comparison: Literal[">=", ">", "<=", "<"] = ">="
    threshold: float
    against_baseline: bool = Field(default=True, description="Require beating the trivial baseline, where known.")
    champion_margin: Optional[float] = Field(
        default=0.02, ge=0, description="How much worse than the approved model a new one may be; None: no comparison."
    )

    @property
    def maximize(self) -> bool:
        return self.comparison in (">=", ">")


class InferenceSettings(_Settings):
    """Batch transform over the scoring extract, with the settings SageMaker lets a user choose.

    The defaults suit the project's containers: the header-less extract (id first) is split by line,
    the id is cut off before the model sees a record (``input_filter``) and joined back to its answer
    (``join_source``), and each published line is the id and the last answer column (``output_filter``).
    A container that reads a header and answers the ids itself takes ``split_type="None"`` (the whole file
    in one request) with no filters and no join.
    """

    mode: Literal["batch"] = "batch"
    instance_type: str = Field(default="ml.m5.large", pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    instance_count: int = Field(default=1, ge=1, le=20)
    batch_strategy: Literal["MultiRecord", "SingleRecord"] = "MultiRecord"
    max_payload_mb: int = Field(default=6, ge=0, le=100)
    max_concurrent_transforms: int = Field(default=2, ge=1, le=100)
    timeout_seconds: int = Field(default=2 * 3600, ge=60, le=30 * 86400)
    split_type: Literal["Line", "None"] = "Line"
    content_type: str = Field(default="text/csv", min_length=1, max_length=256)
    accept: str = Field(default="text/csv", min_length=1, max_length=256)
    assemble_with: Literal["Line", "None"] = "Line"
    input_filter: Optional[str] = Field(default="$[1:]", max_length=63)
    join_source: Literal["Input", "None"] = "Input"
    output_filter: Optional[str] = Field(default="$[0,-1]", max_length=63)

    @model_validator(mode="after")
    def _payload_budget(self) -> "InferenceSettings":
        if self.max_payload_mb * self.max_concurrent_transforms > 100:
            raise ValueError(
                f"max_payload_mb × max_concurrent_transforms must not exceed 100 "
                f"(got {self.max_payload_mb} × {self.max_concurrent_transforms})"
            )
        return self

    @model_validator(mode="after")
    def _data_processing(self) -> "InferenceSettings":
        """SageMaker: filters and joins work on CSV and JSON only, and CSV ones need Line split and assembly."""
        if not self.processes_data:
            return self
        formats = ("text/csv", "application/json", "application/jsonlines")
        if self.content_type not in formats or self.accept not in formats:
            raise ValueError(f"input_filter, join_source and output_filter need content_type and accept in {formats}")
        if "text/csv" in (self.content_type, self.accept) and (self.split_type, self.assemble_with) != ("Line", "Line"):
            raise ValueError(
                "with text/csv, input_filter, join_source and output_filter need split_type and "
                "assemble_with 'Line' (for a container that reads a header, set them to None/'None')"
            )
        return self

    @property
    def processes_data(self) -> bool:
        return bool(
            self.input_filter not in (None, "$") or self.join_source == "Input" or self.output_filter not in (None, "$")
        )


#: SageMaker's pattern for endpoint, endpoint config and variant names (botocore ``EndpointName``: at most 63
#: characters, ``[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}``); lowercase here, since SageMaker writes names lowercase in
#: ARNs and the Step Functions role's grants are ARN patterns.
ENDPOINT_NAME = r"[a-z0-9](-*[a-z0-9]){0,62}"
VARIANT_NAME = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"  # botocore ``VariantName``


class EndpointSettings(_Settings):
    """A SageMaker real-time endpoint serving the latest approved model (``PipelineConfig.endpoint``): the
    training workflow creates it, or updates it to each newly approved model, and waits until it serves."""

    name: Optional[str] = Field(default=None, description="The endpoint's name; defaults to the pipeline's.")
    instance_type: str = Field(default="ml.m5.large", pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    instance_count: int = Field(default=1, ge=1, le=20)
    variant_name: str = Field(default="AllTraffic", pattern=f"^{VARIANT_NAME}$")
    wait_seconds: int = Field(
        default=3600, ge=60, le=86400, description="How long the workflow waits for the endpoint to be InService."
    )
    poll_seconds: int = Field(default=30, ge=1, le=3600, description="How often it asks meanwhile.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not re.fullmatch(ENDPOINT_NAME, value):
            raise ValueError(
                f"endpoint name {value!r} must be 1 to 63 lowercase letters, digits and '-', "
                "starting and ending with a letter or digit"
            )
        return value

    @model_validator(mode="after")
    def _poll_within_wait(self) -> "EndpointSettings":
        if self.poll_seconds > self.wait_seconds:
            raise ValueError(f"poll_seconds ({self.poll_seconds}) exceeds wait_seconds ({self.wait_seconds})")
        return self


class RetrySettings(_Settings):
    """Backoff for transient AWS errors (throttling, capacity), and SageMaker's own retries of training jobs
    that fail with an internal error (``RetryStrategy``); a job that fails by its own error (a crash, bad
    data, a server that does not start) fails the state at once, since it would fail again."""

    interval_seconds: int = Field(default=10, ge=1, le=3600)
    max_attempts: int = Field(default=5, ge=0, le=99)
    backoff_rate: float = Field(default=2.0, ge=1.0, le=10.0)
    internal_error_retries: int = Field(
        default=1,
        ge=0,
        le=30,
        description="SageMaker RetryStrategy: retries of a training job after an internal error.",
    )


class NotificationSettings(_Settings):
    """Who hears of a failed, timed-out or aborted execution. On AWS, deploy subscribes the addresses and
    URLs to the failures topic (SNS mails each address, and posts each URL, a confirmation to accept
    first); locally, each notice is printed, kept in the workspace and POSTed to ``webhook_url``."""

    email: tuple[str, ...] = Field(default=(), max_length=50, description="Addresses subscribed to the failures topic.")
    https: tuple[str, ...] = Field(default=(), max_length=50, description="HTTPS endpoints subscribed to the topic.")
    webhook_url: Optional[str] = Field(default=None, description="Local runtime only: each notice is POSTed here.")

    @field_validator("email")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _checked_list(value, EMAIL, "an e-mail address (name@domain)")

    @field_validator("https")
    @classmethod
    def _endpoints(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _checked_list(value, HTTPS_URL, "an https:// URL (SNS's https protocol)")

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, value: Optional[str]) -> Optional[str]:
        if value is not None:
            _checked_list((value,), WEBHOOK_URL, "an http:// or https:// URL")
        return value


def _checked_list(values: tuple[str, ...], pattern: str, meaning: str) -> tuple[str, ...]:
    """Each item matches ``pattern`` (else one line saying what it must be), none twice."""
    for item in values:
        if len(item) > MAX_ENDPOINT_CHARS or not re.fullmatch(pattern, item):
            raise ValueError(f"{_shortened(item)} is not {meaning}")
    repeated = sorted({item for item in values if values.count(item) > 1})
    if repeated:
        raise ValueError(f"listed twice: {', '.join(repeated)}")
    return values


class Schedules(_Settings):
    """When to re-run training on the latest file under the training prefix, and scoring on the latest under the
    scoring prefix, in EventBridge Scheduler's syntax (``mlops_pipeline.schedules``); each off when None."""

    retraining: Optional[str] = Field(default=None, description="cron(...) or rate(...): re-run training.")
    batch_scoring: Optional[str] = Field(default=None, description="cron(...) or rate(...): re-run scoring.")
    timezone: str = Field(default="UTC", description="IANA time zone the cron expressions are read in.")

    @field_validator("retraining", "batch_scoring")
    @classmethod
    def _expression(cls, value: Optional[str]) -> Optional[str]:
        from mlops_pipeline.schedules import parse

        if value is not None:
            parse(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        from mlops_pipeline.schedules import check_timezone

        return check_timezone(value)

    def by_kind(self) -> dict[str, str]:
        """``{"train": expression, "score": expression}`` of the schedules that are on."""
        given = {"train": self.retraining, "score": self.batch_scoring}
        return {kind: expression for kind, expression in given.items() if expression is not None}


class PipelineConfig(_Settings):
    """One pipeline: its name, data schema, transform, model, tuning, gate and inference."""

    name: str = Field(description="Lowercase letters, digits and '-'; prefixes every job and state machine.")
    data: DataSchema
    transform: TransformSettings
    model: ModelSettings
    tuning: TuningSettings
    quality_gate: QualityGate
    inference: InferenceSettings = InferenceSettings()
    retry: RetrySettings = RetrySettings()
    notifications: NotificationSettings = NotificationSettings()
    endpoint: Optional[EndpointSettings] = Field(
        default=None, description="Deploy each newly latest approved model to a real-time endpoint."
    )
    scoring_wait_seconds: int = Field(
        default=3600, ge=0, le=86400, description="How long scoring waits for a running training to approve a model."
    )
    scoring_poll_seconds: int = Field(
        default=60, ge=1, le=3600, description="How often scoring checks on that training."
    )
    schedules: Optional[Schedules] = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        limit = max_pipeline_name_length()
        if not re.fullmatch(r"[a-z][a-z0-9-]*[a-z0-9]", value) or "--" in value:
            raise ValueError(f"name {value!r} must be lowercase letters, digits and single '-', starting with a letter")
        if len(value) > limit:
            raise ValueError(
                f"name {value!r} is {len(value)} characters; tuning job names are limited to 32 and the "
                f"job stem, redrive and retry counts take the rest, so the name may have at most {limit}"
            )
        return value

    @model_validator(mode="after")
    def _metrics_known(self) -> "PipelineConfig":
        known = self.model.metric_names
        for field, metric in (
            ("tuning.objective_metric", self.tuning.objective_metric),
            ("quality_gate.metric", self.gate_metric),
        ):
            if metric not in known:
                raise ValueError(f"{field} {metric!r} is not one of the model's metrics: {', '.join(known)}")
        if self.gate_metric in PROBABILITY_METRICS and not 0 <= self.quality_gate.threshold <= 1:
            raise ValueError(
                f"quality_gate.threshold {self.quality_gate.threshold} is outside [0, 1], "
                f"the range of the probability metric {self.gate_metric!r}"
            )
        tuned = {r.name for r in self.tuning.ranges} & set(self.model.hyperparameters)
        if tuned:
            raise ValueError(f"hyperparameters both static and tuned: {', '.join(sorted(tuned))}")
        count = len(self.model.hyperparameters) + len(self.tuning.ranges) + 1  # + _tuning_objective_metric
        if count > MAX_HYPERPARAMETERS:
            raise ValueError(
                f"{count - 1} static and tuned hyperparameters; SageMaker allows {MAX_HYPERPARAMETERS} with the "
                "_tuning_objective_metric it adds"
            )
        return self

    @model_validator(mode="after")
    def _endpoint_named_after_pipeline(self) -> "PipelineConfig":
        """The Step Functions role may manage only endpoints named ``<pipeline>`` or ``<pipeline>-...``
        (infra/terraform/endpoint.tf), as every SageMaker name an execution creates starts with the pipeline's."""
        name = self.endpoint_name
        if name is not None and name != self.name and not name.startswith(f"{self.name}-"):
            raise ValueError(f"endpoint.name {name!r} must be {self.name!r} or start with '{self.name}-'")
        return self

    @property
    def gate_metric(self) -> str:
        return self.quality_gate.metric or self.tuning.objective_metric

    @property
    def endpoint_name(self) -> str | None:
        """The real-time endpoint's name (the pipeline's unless the workflow names it), or None without one."""
        return None if self.endpoint is None else self.endpoint.name or self.name


def load_workflow(path: str | Path, containers: Path | None = None) -> PipelineConfig:
    """Run a workflow file and return its validated ``PIPELINE``; user mistakes become PipelineError.

    Its hyperparameters are also checked against what the model container declares, when it does
    (``containers/<repository>/hyperparameters.json`` or ``program/hyperparameters.json``; ``containers``
    defaults to the folder beside the workflow's ``workflows/``).
    """
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"workflow file not found: {path}")
    try:
        namespace = runpy.run_path(str(path), run_name=f"workflow:{path.stem}")
    except ValidationError as error:
        raise PipelineError(f"{path}{_line_in(path, error)}: {describe_validation_error(error)}") from None
    except PipelineError:
        raise
    except SyntaxError as error:  # the workflow file, or a module it imports
        raise PipelineError(f"{error.filename or path}:{error.lineno}: SyntaxError: {error.msg}") from None
    except Exception as error:  # the workflow file is the user's code: its mistake is one line, where it happened
        raise PipelineError(f"{path}{_line_in(path, error)}: {_headline(error)}") from None
    if "PIPELINE" not in namespace:
        raise PipelineError(f"{path}: define PIPELINE = PipelineConfig(...) (the file defines no PIPELINE)")
    pipeline = namespace["PIPELINE"]
    if not isinstance(pipeline, PipelineConfig):
        raise PipelineError(f"{path}: define PIPELINE = PipelineConfig(...) (found {type(pipeline).__name__})")
    declaration = _hyperparameter_declaration(pipeline, containers or path.resolve().parent.parent / "containers")
    if declaration is not None:
        problem = hyperparameter_problem(pipeline, json.loads(declaration.read_text())["hyperparameters"])
        if problem:
            name, message = problem
            raise PipelineError(f"{path}{_line_naming(path, name)}: {message} ({declaration} declares what it accepts)")
    return pipeline


def _hyperparameter_declaration(pipeline: PipelineConfig, containers: Path) -> Path | None:
    repository = pipeline.model.image.rsplit("/", 1)[-1].split("@")[0].split(":")[0]
    for candidate in (
        containers / repository / "hyperparameters.json",
        containers / repository / "program" / "hyperparameters.json",
    ):
        if candidate.is_file():
            return candidate
    return None


#: Hyperparameters SageMaker adds itself, which no container declares.
PLATFORM_HYPERPARAMETERS = ("_tuning", "sagemaker_", "_sagemaker")


def hyperparameter_problem(pipeline: PipelineConfig, declared: dict) -> tuple[str, str] | None:
    """(name, what is wrong) for the first static value or tuned range the container does not accept."""
    static = pipeline.model.hyperparameters
    for name in [*static, *(r.name for r in pipeline.tuning.ranges)]:
        if name not in declared and not name.startswith(PLATFORM_HYPERPARAMETERS):
            known = ", ".join(declared)
            return name, f"hyperparameter {name!r} is not one the container accepts (it accepts: {known})"
    for name, value in static.items():
        problem = _value_problem(value, declared.get(name))
        if problem:
            return name, f"ModelSettings.hyperparameters[{name!r}] = {value!r} {problem}"
    for item in pipeline.tuning.ranges:
        spec = declared.get(item.name)
        values = item.values if isinstance(item, CategoricalRange) else (item.min, item.max)
        for value in values:
            problem = _value_problem(value, spec)
            if problem:
                return item.name, f"the range of {item.name!r} reaches {value!r}, which {problem}"
    return None


def _value_problem(value: object, spec: dict | None) -> str | None:
    if spec is None:
        return None
    if "values" in spec:
        return (
            None if str(value) in map(str, spec["values"]) else f"must be one of {', '.join(map(str, spec['values']))}"
        )
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return f"must be a number ({spec.get('type')})"
    if spec.get("type") == "integer" and not number.is_integer():
        return "must be an integer"
    low, high = spec.get("min"), spec.get("max")
    if low is not None and (number < low or (spec.get("min_exclusive") and number == low)):
        return f"must be {'>' if spec.get('min_exclusive') else '>='} {low}"
    if high is not None and (number > high or (spec.get("max_exclusive") and number == high)):
        return f"must be {'<' if spec.get('max_exclusive') else '<='} {high}"
    if number in spec.get("exclude", ()):
        return f"must not be {value}"
    return None


def _line_naming(path: Path, name: str) -> str:
    """``:LINE`` of the first line of the workflow that names ``name``."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if f"'{name}'" in line or f'"{name}"' in line or f"{name}=" in line:
            return f":{number}"
    return ""


def describe_validation_error(error: ValidationError) -> str:
    """First problem of a pydantic error as ``Model.field.path: message (got value)``."""
    first = error.errors(include_url=False)[0]
    location = ".".join(str(part) for part in first["loc"] if not _is_union_tag(part))
    where = f"{error.title}.{location}" if location else error.title
    message = first["msg"].removeprefix("Value error, ")
    got = "" if first["type"].startswith(("value_error", "missing")) else f" (got {_shortened(first.get('input'))})"
    more = error.error_count() - 1
    suffix = f" [and {more} more problem{'s' if more > 1 else ''}]" if more else ""
    return f"{where}: {message}{got}{suffix}"


def _shortened(value: object, limit: int = 80) -> str:
    """A value's repr cut to ``limit`` characters: a long tuple would bury the one line's message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_union_tag(part: object) -> bool:
    return part in {"continuous", "integer", "categorical"}


def _headline(error: BaseException) -> str:
    """``Type: first line of the message`` of an exception a workflow file raised."""
    message = str(error).strip().splitlines()
    return f"{type(error).__name__}: {message[0]}" if message else type(error).__name__


def _line_in(path: Path, error: BaseException) -> str:
    """``:LINE`` of the deepest frame inside the workflow file, so the user can jump there."""
    lines = [
        f.lineno for f in traceback.extract_tb(error.__traceback__) if Path(f.filename).resolve() == path.resolve()
    ]
    return f":{lines[-1]}" if lines else ""
