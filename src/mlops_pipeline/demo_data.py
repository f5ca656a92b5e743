"""Realistic employee-attrition CSVs of any size, for the demo, the tests and the benchmarks.

Seeded and written in chunks, so millions of rows need little memory. The label has a learnable
signal (overtime, low satisfaction, low pay for the level, short tenure, frequent travel), and the
data has what real extracts have: a few missing values and inconsistently written categories.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

LABEL = "attrition"
ID_COLUMN = "employee_id"
DEPARTMENTS = ("sales", "engineering", "hr", "finance", "support")
TRAVEL = ("none", "rarely", "frequently")
EDUCATION = ("life sciences", "medical", "marketing", "technical", "other")
CHUNK_ROWS = 100_000


def _chunk(rng: np.random.Generator, start: int, rows: int, with_label: bool) -> pd.DataFrame:
    age = rng.integers(18, 61, rows)
    level = rng.integers(1, 6, rows)
    years = np.minimum(rng.exponential(6, rows).astype(int), age - 18)
    in_role = np.minimum(rng.exponential(3, rows).astype(int), years)
    income = (2500 + level * 1800 + rng.normal(0, 900, rows)).clip(1200).round(0)
    overtime = rng.random(rows) < 0.28
    satisfaction = rng.integers(1, 5, rows)
    travel = rng.choice(TRAVEL, rows, p=(0.2, 0.6, 0.2))
    distance = rng.integers(1, 40, rows).astype(float)
    frame = pd.DataFrame(
        {
            ID_COLUMN: [f"E{n:08d}" for n in range(start, start + rows)],
            "age": age,
            "department": rng.choice(DEPARTMENTS, rows),
            "job_level": level,
            "monthly_income": income,
            "years_at_company": years,
            "years_in_role": in_role,
            "overtime": np.where(overtime, "yes", "no"),
            "satisfaction": satisfaction,
            "business_travel": travel,
            "distance_from_home": distance,
            "num_companies_worked": rng.integers(0, 9, rows),
            "education_field": rng.choice(EDUCATION, rows),
            "country": "nl",  # constant: the transform drops it
        }
    )
    if with_label:
        logit = (
            -2.2
            + 1.4 * overtime
            - 0.55 * (satisfaction - 2.5)
            - 0.00035 * (income - (2500 + level * 1800))
            - 0.12 * np.minimum(years, 10)
            + 0.8 * (travel == "frequently")
            + 0.02 * distance
            - 0.03 * (age - 35)
        )
        frame.insert(1, LABEL, (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int))
    _add_noise(rng, frame)
    return frame


def _add_noise(rng: np.random.Generator, frame: pd.DataFrame) -> None:
    """Missing numbers and categories written with odd case or spaces, as exported by hand."""
    rows = len(frame)
    for column in ("monthly_income", "distance_from_home"):
        frame.loc[rng.random(rows) < 0.02, column] = np.nan
    noisy = rng.random(rows) < 0.01
    frame.loc[noisy, "department"] = " " + frame.loc[noisy, "department"].str.upper() + " "


def write_demo_csv(path: str | Path, rows: int, *, seed: int = 7, with_label: bool = True, start_id: int = 1) -> Path:
    """Write ``rows`` employees to ``path`` (training file with label, scoring file without)."""
    if rows < 1:
        raise ValueError("rows must be at least 1")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    partial = path.with_name(f".{path.name}.partial")
    with open(partial, "w", encoding="utf-8", newline="") as out:
        for offset in range(0, rows, CHUNK_ROWS):
            chunk = _chunk(rng, start_id + offset, min(CHUNK_ROWS, rows - offset), with_label)
            chunk.to_csv(out, index=False, header=offset == 0, float_format="%.0f")
    os.replace(partial, path)
    return path


def write_demo_pair(folder: str | Path, train_rows: int, score_rows: int, seed: int = 7) -> tuple[Path, Path]:
    """A training file and a scoring file (ids that do not overlap the training ones)."""
    folder = Path(folder)
    train = write_demo_csv(folder / "employees_train.csv", train_rows, seed=seed)
    score = write_demo_csv(
        folder / "employees_score.csv", score_rows, seed=seed + 1, with_label=False, start_id=train_rows + 1
    )
    return train, score
