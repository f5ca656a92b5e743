"""Employee attrition: will this employee leave? A binary classifier, tuned and gated.

Copy this file to start your own pipeline, then edit it. Everything here is validated when the
file is loaded (`python -m mlops_pipeline.deploy --only-json`, `mlops-pipeline local run`); a
mistake is reported as one line naming the field and the values it accepts.
"""

from mlops_pipeline.config import (
    CategoricalRange,
    ContinuousRange,
    DataSchema,
    InferenceSettings,
    IntegerRange,
    ModelSettings,
    PipelineConfig,
    QualityGate,
    TransformSettings,
    TuningSettings,
)

PIPELINE = PipelineConfig(
    # Prefixes every job, model and state machine (attrition-training, attrition-scoring).
    name="attrition",
    # Columns the pipeline must know: the 0/1 label in training files and the row id.
    data=DataSchema(label="attrition", id_column="employee_id"),
    # Feature engineering: glue_transforms/attrition_transform.py (a pandas function).
    transform=TransformSettings(script="attrition_transform.py", validation_fraction=0.2, seed=42),
    # The bring-your-own-model container in containers/byo-xgboost, pushed to ECR with this tag.
    model=ModelSettings(
        image="byo-xgboost:1.0",
        instance_type="ml.m5.large",
        hyperparameters={"objective": "binary:logistic", "num_round": 100, "early_stopping_rounds": 10},
    ),
    tuning=TuningSettings(
        strategy="Bayesian",
        objective_metric="roc_auc",
        objective_type="Maximize",
        max_jobs=6,
        max_parallel_jobs=2,
        ranges=(
            ContinuousRange(name="eta", min=0.01, max=0.5, scaling="Logarithmic"),
            IntegerRange(name="max_depth", min=2, max=8),
            ContinuousRange(name="subsample", min=0.5, max=1.0),
            CategoricalRange(name="grow_policy", values=("depthwise", "lossguide")),
        ),
    ),
    # Approve the best model only if its validation ROC AUC reaches 0.70.
    quality_gate=QualityGate(metric="roc_auc", comparison=">=", threshold=0.70),
    inference=InferenceSettings(instance_type="ml.m5.large", max_payload_mb=6, max_concurrent_transforms=2),
)
