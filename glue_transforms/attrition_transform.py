"""Feature engineering for the employee-attrition example: a pure pandas function.

Edit this file to change the features; ``run_transform.py`` (the Glue job entry point) does the
reading, validation, splitting and writing around it. The same function serves training (it
learns the category levels and which columns to drop, returned as a schema) and scoring (it
applies that schema, so the features come out in the same order).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

OTHER = "__other__"
#: Columns the features compute with: ``run_transform.py`` refuses a training file where they hold text (as
#: ``9,223`` with a thousands separator) instead of letting the arithmetic below fail on it.
NUMERIC_COLUMNS = ("monthly_income", "job_level", "years_in_role", "years_at_company", "num_companies_worked", "age")


def _normalise(frame: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
    frame = frame.copy()
    for column in categorical:
        frame[column] = frame[column].astype("string").str.strip().str.lower()
    return frame


def _derive(frame: pd.DataFrame) -> pd.DataFrame:
    """Ratios that carry more signal than their parts."""
    derived = pd.DataFrame(index=frame.index)
    if {"monthly_income", "job_level"} <= set(frame.columns):
        derived["income_per_level"] = frame["monthly_income"] / frame["job_level"].replace(0, np.nan)
    if {"years_in_role", "years_at_company"} <= set(frame.columns):
        derived["role_tenure_ratio"] = frame["years_in_role"] / (frame["years_at_company"] + 1)
    if {"num_companies_worked", "age"} <= set(frame.columns):
        derived["companies_per_working_year"] = frame["num_companies_worked"] / (frame["age"] - 17).clip(lower=1)
    return derived


def learn_schema(frame: pd.DataFrame, *, id_column: str, label: str) -> dict:
    """What training fixes for scoring: input columns, category levels, dropped columns."""
    inputs = [c for c in frame.columns if c not in (id_column, label)]
    constant = [c for c in inputs if frame[c].nunique(dropna=True) <= 1]
    kept = [c for c in inputs if c not in constant]
    categorical = [c for c in kept if not pd.api.types.is_numeric_dtype(frame[c])]
    normalised = _normalise(frame[categorical], categorical)
    levels = {c: sorted(normalised[c].dropna().unique().tolist()) for c in categorical}
    return {
        "label": label,
        "id_column": id_column,
        "input_columns": inputs,
        "dropped_columns": constant,
        "numeric_columns": [c for c in kept if c not in categorical],
        "categories": levels,
    }


def transform(frame: pd.DataFrame, schema: dict) -> tuple[pd.DataFrame, dict]:
    """Features in the schema's order, plus counts of category values training never saw.

    Unknown categories become all-zero indicator columns (as if ``__other__``), never an error.
    """
    categorical = list(schema["categories"])
    frame = _normalise(frame, categorical)
    numeric = frame[schema["numeric_columns"]].apply(pd.to_numeric, errors="coerce").astype("float64")
    parts = [numeric, _derive(frame)]
    unknown = {}
    for column, levels in schema["categories"].items():
        values = frame[column]
        unseen = values.notna() & ~values.isin(levels)
        if unseen.any():
            unknown[column] = int(unseen.sum())
        indicators = {f"{column}={level}": (values == level).fillna(False).astype("int8") for level in levels}
        parts.append(pd.DataFrame(indicators, index=frame.index))
    return pd.concat(parts, axis=1), unknown
