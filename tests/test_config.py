"""Configuration is validated at load time; every mistake names the field and what is allowed."""

from __future__ import annotations

import copy
import textwrap

import pytest
from pydantic import ValidationError

from conftest import REPO
from mlops_pipeline.config import PipelineConfig, describe_validation_error, load_workflow
from mlops_pipeline.errors import PipelineError
from mlops_pipeline.naming import max_pipeline_name_length

VALID = {
    "name": "attrition",
    "data": {"label": "attrition", "id_column": "employee_id"},
    "transform": {"script": "attrition_transform.py"},
    "model": {"image": "byo-xgboost:1.0", "hyperparameters": {"num_round": 50}},
    "tuning": {
        "objective_metric": "roc_auc",
        "max_jobs": 4,
        "max_parallel_jobs": 2,
        "ranges": [
            {"type": "continuous", "name": "eta", "min": 0.01, "max": 0.3, "scaling": "Logarithmic"},
            {"type": "integer", "name": "max_depth", "min": 2, "max": 6},
            {"type": "categorical", "name": "grow_policy", "values": ["depthwise", "lossguide"]},
        ],
    },
    "quality_gate": {"threshold": 0.7},
}


def with_change(path: str, value):
    config = copy.deepcopy(VALID)
    *parents, last = path.split(".")
    node = config
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is DELETE:
        del node[last]
    elif last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return config


DELETE = object()


def error_for(config: dict) -> str:
    with pytest.raises(ValidationError) as caught:
        PipelineConfig.model_validate(config)
    return describe_validation_error(caught.value)


def test_the_valid_configuration_loads():
    config = PipelineConfig.model_validate(VALID)
    assert config.gate_metric == "roc_auc"
    assert config.transform.module == "attrition_transform"


BAD_CONFIGURATIONS = [
    # (what is wrong, path, value, words the message must contain)
    ("wrong type", "tuning.max_jobs", "many", ["tuning.max_jobs", "integer", "'many'"]),
    (
        "unknown strategy",
        "tuning.strategy",
        "Bayes",
        ["tuning.strategy", "'Bayesian'", "'Random'", "'Grid'", "'Bayes'"],
    ),
    ("empty ranges", "tuning.ranges", [], ["tuning.ranges", "at least 1"]),
    (
        "min > max",
        "tuning.ranges.0",
        {"type": "continuous", "name": "eta", "min": 0.5, "max": 0.1},
        ["'eta'", "min (0.5) must be less than max (0.1)"],
    ),
    (
        "log scale from zero",
        "tuning.ranges.1",
        {"type": "integer", "name": "max_depth", "min": 0, "max": 6, "scaling": "Logarithmic"},
        ["'max_depth'", "Logarithmic", "min > 0"],
    ),
    ("probability threshold > 1", "quality_gate.threshold", 1.5, ["quality_gate.threshold 1.5", "[0, 1]", "'roc_auc'"]),
    (
        "name too long for tuning jobs",
        "name",
        "a-very-long-pipeline-name",
        ["name 'a-very-long-pipeline-name'", "32", f"at most {max_pipeline_name_length()}"],
    ),
    ("name with capitals", "name", "Attrition", ["name 'Attrition'", "lowercase"]),
    ("unknown field", "tuning.max_job", 3, ["tuning.max_job", "Extra inputs are not permitted"]),
    (
        "objective not printed by the model",
        "tuning.objective_metric",
        "auc_pr",
        ["tuning.objective_metric 'auc_pr'", "accuracy, roc_auc"],
    ),
    ("comparison unknown", "quality_gate.comparison", "=>", ["quality_gate.comparison", "'>='", "'=>'"]),
    (
        "payload budget",
        "inference",
        {"max_payload_mb": 50, "max_concurrent_transforms": 4},
        ["max_payload_mb × max_concurrent_transforms", "100", "50 × 4"],
    ),
    ("image without tag", "model.image", "byo-xgboost", ["model.image", "needs a tag"]),
    (
        "grid with continuous ranges",
        "tuning.strategy",
        "Grid",
        ["Grid strategy takes categorical ranges only", "eta", "max_depth"],
    ),
    ("parallel above total", "tuning.max_parallel_jobs", 9, ["max_parallel_jobs (9) exceeds max_jobs (4)"]),
    ("missing label", "data.label", DELETE, ["data.label", "Field required"]),
    ("tuned and static", "model.hyperparameters", {"eta": 0.1}, ["both static and tuned: eta"]),
    ("bad script name", "transform.script", "transform.sh", ["transform.script", "pattern"]),
    (
        "reverse log outside [0,1)",
        "tuning.ranges.0",
        {"type": "continuous", "name": "eta", "min": 0.5, "max": 2, "scaling": "ReverseLogarithmic"},
        ["ReverseLogarithmic", "0 <= min < max < 1"],
    ),
    (
        "31 tuned hyperparameters",
        "tuning.ranges",
        [{"type": "integer", "name": f"p{i}", "min": 1, "max": 2} for i in range(31)],
        ["tuning.ranges", "at most 30 items"],
    ),
    (
        "41 metric definitions",
        "model.metrics",
        [{"name": f"m{i}", "regex": f"m{i}: ([0-9.]+)"} for i in range(41)],
        ["model.metrics", "at most 40 items"],
    ),
    (
        "more than 100 hyperparameters",
        "model.hyperparameters",
        {f"h{i}": i for i in range(98)},
        ["101 static and tuned hyperparameters; SageMaker allows 100 with the _tuning_objective_metric"],
    ),
    ("metric regex too long", "model.metrics", [{"name": "m", "regex": "(x)" + "y" * 500}], ["at most 500"]),
    (
        "categorical value too long",
        "tuning.ranges.2",
        {"type": "categorical", "name": "grow_policy", "values": ["z" * 257]},
        ["at most 256 characters"],
    ),
    ("hyperparameter value too long", "model.hyperparameters", {"num_round": "9" * 2501}, ["'num_round'", "2500"]),
    (
        "range type unknown",
        "tuning.ranges.0",
        {"type": "float", "name": "eta", "min": 0.1, "max": 0.2},
        ["tuning.ranges.0", "'continuous', 'integer', 'categorical'"],
    ),
    ("not an e-mail", "notifications", {"email": ["ml-team"]}, ["notifications.email", "'ml-team' is not an e-mail"]),
    (
        "plain http to SNS",
        "notifications",
        {"https": ["http://hooks.example.com"]},
        ["notifications.https", "https://"],
    ),
    ("subscriber twice", "notifications", {"email": ["a@example.com"] * 2}, ["listed twice: a@example.com"]),
    ("webhook not a URL", "notifications", {"webhook_url": "localhost:8000"}, ["notifications.webhook_url", "http://"]),
]


@pytest.mark.parametrize("what, path, value, expected", BAD_CONFIGURATIONS, ids=[c[0] for c in BAD_CONFIGURATIONS])
def test_bad_configuration_is_rejected_with_a_message_naming_the_field(what, path, value, expected):
    message = error_for(with_change(path, value))
    assert "\n" not in message
    for words in expected:
        assert words in message, f"{what}: {words!r} not in {message!r}"


def test_notifications_are_off_unless_the_workflow_names_them():
    config = PipelineConfig.model_validate(VALID)
    assert (config.notifications.email, config.notifications.https, config.notifications.webhook_url) == ((), (), None)
    named = PipelineConfig.model_validate({**VALID, "notifications": {"webhook_url": "http://127.0.0.1:8000/hook"}})
    assert named.notifications.webhook_url == "http://127.0.0.1:8000/hook"


def test_grid_strategy_accepts_categorical_ranges_without_max_jobs():
    config = copy.deepcopy(VALID)
    config["tuning"] = {
        "strategy": "Grid",
        "objective_metric": "roc_auc",
        "ranges": [{"type": "categorical", "name": "max_depth", "values": ["3", "5"]}],
    }
    assert PipelineConfig.model_validate(config).tuning.max_jobs is None


def test_threshold_outside_unit_interval_is_fine_for_a_loss_metric():
    config = copy.deepcopy(VALID)
    config["quality_gate"] = {"metric": "logloss", "comparison": "<=", "threshold": 2.0}
    assert PipelineConfig.model_validate(config).gate_metric == "logloss"


def test_load_workflow_names_the_file_line_and_field(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text(
        textwrap.dedent(
            """
            from mlops_pipeline.config import TuningSettings, IntegerRange
            TUNING = TuningSettings(
                strategy="Hyperband",
                objective_metric="roc_auc",
                ranges=(IntegerRange(name="max_depth", min=2, max=6),),
            )
            """
        )
    )
    with pytest.raises(PipelineError) as caught:
        load_workflow(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:3: TuningSettings.strategy:")
    assert "'Bayesian', 'Random' or 'Grid'" in message and "'Hyperband'" in message


def test_load_workflow_requires_pipeline(tmp_path):
    path = tmp_path / "empty.py"
    path.write_text("X = 1\n")
    with pytest.raises(PipelineError) as caught:
        load_workflow(path)
    assert str(caught.value) == f"{path}: define PIPELINE = PipelineConfig(...) (the file defines no PIPELINE)"
    path.write_text("PIPELINE = None\n")
    with pytest.raises(PipelineError, match=r"define PIPELINE = PipelineConfig\(\.\.\.\) \(found NoneType\)"):
        load_workflow(path)


@pytest.mark.parametrize(
    "source, headline",
    [
        (
            "from mlops_pipeline.config import PipelineConfig\nPIPELINE = PipelineConfig(\n",
            ":2: SyntaxError: '(' was never closed",
        ),
        (
            "import pandas\nimport no_such_module_here\n",
            ":2: ModuleNotFoundError: No module named 'no_such_module_here'",
        ),
        ("X = 1\n\nPIPELINE = undefined_name\n", ":3: NameError: name 'undefined_name' is not defined"),
        ("def f():\n    raise ValueError('first line\\nsecond line')\n\nf()\n", ":2: ValueError: first line"),
    ],
)
def test_a_workflow_file_that_raises_is_one_line_naming_where(tmp_path, source, headline):
    """The workflow file is the user's code: its mistakes are the user's, said in one line with the line."""
    path = tmp_path / "broken.py"
    path.write_text(source)
    with pytest.raises(PipelineError) as caught:
        load_workflow(path)
    assert str(caught.value) == f"{path}{headline}"


def test_load_workflow_missing_file(tmp_path):
    with pytest.raises(PipelineError, match="workflow file not found"):
        load_workflow(tmp_path / "nope.py")


def test_example_workflow_loads(example_config):
    assert example_config.name == "attrition"
    assert {r.type for r in example_config.tuning.ranges} == {"continuous", "integer", "categorical"}


def _workflow_beside_containers(root, body: str):
    """A project folder whose workflow names the example container, which declares its hyperparameters."""
    (root / "workflows").mkdir()
    (root / "containers").symlink_to(EXAMPLE_CONTAINERS, target_is_directory=True)
    path = root / "workflows" / "mine.py"
    path.write_text(
        textwrap.dedent(
            """
            from mlops_pipeline.config import (
                ContinuousRange, DataSchema, IntegerRange, ModelSettings, PipelineConfig, QualityGate,
                TransformSettings, TuningSettings,
            )
            PIPELINE = PipelineConfig(
                name="mine",
                data=DataSchema(label="left", id_column="id"),
                transform=TransformSettings(script="t.py"),
            """
        )
        + textwrap.indent(textwrap.dedent(body), "    ")
        + ")\n"
    )
    return path


EXAMPLE_CONTAINERS = REPO / "containers"

RANGE = 'ranges=(IntegerRange(name="max_depth", min=2, max={high}),)'


@pytest.mark.parametrize(
    "model, ranges, expected",
    [
        (
            '{"num_rounds": 50}',
            RANGE.format(high=6),
            ":11: hyperparameter 'num_rounds' is not one the container accepts (it accepts: num_round, eta,",
        ),
        (
            '{"num_round": 50}',
            'ranges=(IntegerRange(name="kfold_splits", min=2, max=5),)',
            ":12: hyperparameter 'kfold_splits' is not one the container accepts",
        ),
        (
            '{"num_round": 0}',
            RANGE.format(high=6),
            ":11: ModelSettings.hyperparameters['num_round'] = 0 must be >= 1",
        ),
        ('{"num_round": 50}', RANGE.format(high=40), ":12: the range of 'max_depth' reaches 40, which must be <= 20"),
        (
            '{"objective": "reg:squarederror"}',
            RANGE.format(high=6),
            ":11: ModelSettings.hyperparameters['objective'] = 'reg:squarederror' must be one of binary:logistic",
        ),
    ],
)
def test_hyperparameters_the_container_does_not_declare_fail_at_load(tmp_path, model, ranges, expected):
    path = _workflow_beside_containers(
        tmp_path,
        f"""
        model=ModelSettings(image="byo-xgboost:1.0", hyperparameters={model}),
        tuning=TuningSettings(objective_metric="roc_auc", max_jobs=2, {ranges}),
        quality_gate=QualityGate(threshold=0.7),
        """,
    )
    with pytest.raises(PipelineError) as caught:
        load_workflow(path)
    message = str(caught.value)
    assert message.startswith(f"{path}{expected}")
    assert message.endswith("hyperparameters.json declares what it accepts)") and "\n" not in message


def test_without_a_declaration_any_hyperparameter_loads(tmp_path):
    path = _workflow_beside_containers(
        tmp_path,
        """
        model=ModelSettings(image="their-own:2", hyperparameters={"kfold_splits": 5}),
        tuning=TuningSettings(
            objective_metric="roc_auc", max_jobs=2, ranges=(IntegerRange(name="depth", min=2, max=99),)
        ),
        quality_gate=QualityGate(threshold=0.7),
        """,
    )
    assert load_workflow(path).model.hyperparameters == {"kfold_splits": 5}


@pytest.mark.parametrize(
    "data, expected",
    [
        ({"positive": "Yes", "label_values": {"Yes": 1, "No": 0}}, "give either positive or label_values, not both"),
        ({"label_values": {"Yes": 1, "Y": 1}}, "label_values must map at least one value to 1 and one to 0"),
        ({"label_values": {"Yes": 1, " yes": 0}}, "label_values maps ' yes' both ways once case and spaces"),
        ({"label_values": {"Yes": 2, "No": 0}}, "PipelineConfig.data.label_values.Yes: Input should be 0 or 1"),
        ({"positive": ""}, "PipelineConfig.data.positive: String should have at least 1 character"),
        ({"checks": {"policies": {"class_count": "fatal"}}}, "'error', 'warning' or 'off'"),
        (
            {"checks": {"min_rows": 1}},
            "PipelineConfig.data.checks.min_rows: Input should be greater than or equal to 2",
        ),
    ],
)
def test_label_mapping_and_check_settings_are_validated(data, expected):
    config = copy.deepcopy(VALID)
    config["data"].update(data)
    assert expected in error_for(config)


def test_the_label_mapping_and_checks_reach_the_glue_job_as_one_argument():
    config = copy.deepcopy(VALID)
    config["data"].update(positive="Yes", checks={"min_rows": 50, "policies": {"text_in_numeric": "error"}})
    config["inference"] = {"max_payload_mb": 2}
    pipeline = PipelineConfig.model_validate(config)
    checks = pipeline.data.checks_json(pipeline.inference.max_payload_mb)
    assert checks == (
        '{"max_payload_mb":2,"min_class_count":5,"min_rows":50,"policies":{"text_in_numeric":"error"},"positive":"Yes"}'
    )


def test_the_gate_compares_with_the_baseline_and_the_champion_by_default():
    gate = PipelineConfig.model_validate(VALID).quality_gate
    assert (gate.against_baseline, gate.champion_margin, gate.maximize) == (True, 0.02, True)
    config = copy.deepcopy(VALID)
    config["quality_gate"] = {"metric": "logloss", "comparison": "<", "threshold": 0.6, "champion_margin": -1}
    assert "PipelineConfig.quality_gate.champion_margin: Input should be greater than or equal to 0" in error_for(
        config
    )


@pytest.mark.parametrize(
    "endpoint, expected",
    [
        ({"name": "Attrition"}, "endpoint name 'Attrition' must be 1 to 63 lowercase letters, digits and '-'"),
        ({"name": "a" * 64}, "must be 1 to 63"),
        ({"name": "scoring-api"}, "endpoint.name 'scoring-api' must be 'attrition' or start with 'attrition-'"),
        ({"instance_count": 0}, "PipelineConfig.endpoint.instance_count: Input should be greater than or equal to 1"),
        ({"poll_seconds": 120, "wait_seconds": 60}, "poll_seconds (120) exceeds wait_seconds (60)"),
        ({"variant_name": "all traffic"}, "PipelineConfig.endpoint.variant_name"),
    ],
)
def test_endpoint_settings_are_checked_in_one_line(endpoint, expected):
    message = error_for({**VALID, "endpoint": endpoint})
    assert "\n" not in message and expected in message


def test_the_endpoint_is_named_after_the_pipeline_unless_the_workflow_names_it():
    assert PipelineConfig.model_validate(VALID).endpoint_name is None
    assert PipelineConfig.model_validate({**VALID, "endpoint": {}}).endpoint_name == "attrition"
    named = PipelineConfig.model_validate({**VALID, "endpoint": {"name": "attrition-api"}})
    assert named.endpoint_name == "attrition-api"
