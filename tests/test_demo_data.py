"""The demo data generator: seeded, any size, learnable, a little messy."""

from __future__ import annotations

import pandas as pd

from mlops_pipeline.demo_data import CHUNK_ROWS, write_demo_csv, write_demo_pair


def test_same_seed_same_bytes(tmp_path):
    first = write_demo_csv(tmp_path / "a.csv", 500, seed=3)
    second = write_demo_csv(tmp_path / "b.csv", 500, seed=3)
    assert first.read_bytes() == second.read_bytes()
    assert write_demo_csv(tmp_path / "c.csv", 500, seed=4).read_bytes() != first.read_bytes()


def test_sizes_across_chunks_and_unique_ids(tmp_path):
    path = write_demo_csv(tmp_path / "big.csv", CHUNK_ROWS + 7)
    frame = pd.read_csv(path)
    assert len(frame) == CHUNK_ROWS + 7
    assert frame["employee_id"].is_unique


def test_training_and_scoring_pair(tmp_path):
    train, score = write_demo_pair(tmp_path, 2000, 300)
    train_frame, score_frame = pd.read_csv(train), pd.read_csv(score)
    assert "attrition" in train_frame and "attrition" not in score_frame
    assert set(train_frame["employee_id"]).isdisjoint(score_frame["employee_id"])
    assert 0.1 < train_frame["attrition"].mean() < 0.5
    assert train_frame["monthly_income"].isna().any()  # some missing values
    assert (train_frame["department"] != train_frame["department"].str.strip().str.lower()).any()  # category noise


def test_label_carries_signal(tmp_path):
    frame = pd.read_csv(write_demo_csv(tmp_path / "t.csv", 20_000))
    rate = frame.groupby("overtime")["attrition"].mean()
    assert rate["yes"] > rate["no"] + 0.1
