"""Job stems and name limits."""

from __future__ import annotations

import re

import pytest

from mlops_pipeline.naming import (
    JOB_STEM_LENGTH,
    TUNING_JOB_NAME_MAX,
    job_stem,
    max_pipeline_name_length,
    state_machine_name,
)


def test_job_stem_is_short_lowercase_and_deterministic():
    stem = job_stem("train", "bucket/data/train/a.csv#v1")
    assert stem == job_stem("train", "bucket/data/train/a.csv#v1")
    assert re.fullmatch(r"t[0-9a-f]{11}", stem) and len(stem) == JOB_STEM_LENGTH
    assert job_stem("train", "bucket/data/train/a.csv#v2") != stem
    assert job_stem("score", "x").startswith("s")


def test_longest_pipeline_name_still_fits_a_tuning_job_name_with_two_digit_redrives_and_retries():
    name = "p" * max_pipeline_name_length()
    longest = f"{name}-{job_stem('train', 'x')}-99-99"
    assert len(longest) == TUNING_JOB_NAME_MAX
    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*", longest)


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError, match="kind must be one of"):
        job_stem("predict", "x")


def test_state_machine_names():
    assert state_machine_name("attrition", "train") == "attrition-training"
    assert state_machine_name("attrition", "score") == "attrition-scoring"
