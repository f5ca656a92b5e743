"""Glue job entry point: read the landed CSV, validate it, transform it, write the extract.

Arguments (``--KEY value``, as ``getResolvedOptions`` reads them):
  --KIND train|score          what the landed file is
  --S3_SOURCE URI             the landed CSV (s3://... on AWS, a local path locally); never modified
  --S3_DEST URI               extract prefix, ending in '/'
  --LABEL, --ID_COLUMN        column names
  --TRANSFORM_MODULE NAME     module with learn_schema() and transform() (shipped with --extra-py-files)
  --VALIDATION_FRACTION F     share of training rows held out for validation (default 0.2)
  --SEED N                    split seed (default 42)
  --SCHEMA_URI URI            scoring only: the training schema (features, category levels)

Training writes ``train/train.csv`` and ``validation/validation.csv`` (label first, no header)
and ``train/schema.json`` (the feature order ``train`` and ``predictor.py`` check against).
Scoring writes ``score/score.csv``: the id first, then the same features, no header.
IO goes through awswrangler for s3:// URIs and through plain files for local paths.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

REQUIRED = ("KIND", "S3_SOURCE", "S3_DEST", "LABEL", "ID_COLUMN", "TRANSFORM_MODULE")
DEFAULTS = {"VALIDATION_FRACTION": "0.2", "SEED": "42", "SCHEMA_URI": ""}
TRAIN_FILE, VALIDATION_FILE, SCORE_FILE, SCHEMA_FILE = (
    "train/train.csv",
    "validation/validation.csv",
    "score/score.csv",
    "train/schema.json",
)


class TransformError(Exception):
    """Bad input: the message names the file, the column or the rows, and what to do."""


def resolved_options(argv: list[str], names: tuple[str, ...], defaults: dict[str, str]) -> dict[str, str]:
    """``getResolvedOptions``-compatible: ``--KEY value`` or ``--KEY=value``; other arguments ignored."""
    found: dict[str, str] = dict(defaults)
    wanted = set(names) | set(defaults)
    index = 0
    while index < len(argv):
        arg = argv[index]
        key, _, value = arg[2:].partition("=") if arg.startswith("--") else ("", "", "")
        if key in wanted and not value and "=" not in arg:
            if index + 1 >= len(argv):
                raise TransformError(f"argument --{key} needs a value")
            value, index = argv[index + 1], index + 1
        if key in wanted:
            found[key] = value
        index += 1
    missing = [name for name in names if name not in found]
    if missing:
        raise TransformError(f"missing job arguments: {', '.join('--' + m for m in missing)}")
    return found


def read_bytes(uri: str) -> bytes:
    if uri.startswith("s3://"):
        import awswrangler as wr

        buffer = io.BytesIO()
        wr.s3.download(path=uri, local_file=buffer)
        return buffer.getvalue()
    try:
        return Path(uri).read_bytes()
    except FileNotFoundError:
        raise TransformError(f"{uri}: file not found") from None


def write_bytes(uri: str, data: bytes) -> None:
    """Atomic for local files (temp + rename); S3 objects appear whole anyway."""
    if uri.startswith("s3://"):
        import awswrangler as wr

        wr.s3.upload(local_file=io.BytesIO(data), path=uri)
        return
    path = Path(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.replace(temporary, path)


def read_landed_csv(uri: str, id_column: str) -> pd.DataFrame:
    data = read_bytes(uri)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise TransformError(
            f"{uri}: not UTF-8 (byte 0x{data[error.start]:02x} on line {line}); save the file as UTF-8 CSV"
        ) from None
    if not text.strip():
        raise TransformError(f"{uri}: the file is empty; land a CSV with a header row and data rows")
    try:
        frame = pd.read_csv(io.StringIO(text), dtype={id_column: "string"}, skipinitialspace=False)
    except pd.errors.ParserError as error:
        raise TransformError(f"{uri}: not a well-formed CSV ({error})") from None
    if frame.empty:
        raise TransformError(f"{uri}: the file has a header but no data rows")
    return frame


def check_ids(frame: pd.DataFrame, uri: str, id_column: str) -> None:
    if id_column not in frame.columns:
        raise TransformError(f"{uri}: id column {id_column!r} is missing (columns: {', '.join(frame.columns)})")
    ids = frame[id_column]
    if ids.isna().any():
        rows = (np.flatnonzero(ids.isna().to_numpy()) + 2).tolist()[:5]
        raise TransformError(f"{uri}: {id_column!r} is empty on line(s) {', '.join(map(str, rows))}")
    duplicated = ids[ids.duplicated()].unique().tolist()
    if duplicated:
        raise TransformError(f"{uri}: duplicate {id_column!r} values: {', '.join(map(str, duplicated[:5]))}")


def check_label(frame: pd.DataFrame, uri: str, label: str) -> pd.Series:
    """The label as 0/1 integers, or an error naming the offending values."""
    if label not in frame.columns:
        raise TransformError(
            f"{uri}: label column {label!r} is missing from the training file (columns: {', '.join(frame.columns)})"
        )
    values = pd.to_numeric(frame[label], errors="coerce")
    bad = ~values.isin([0, 1])
    if bad.any():
        examples = frame.loc[bad, label].astype("string").fillna("<empty>").unique().tolist()[:5]
        found = f"found {', '.join(examples)} on {int(bad.sum())} row(s)"
        raise TransformError(f"{uri}: label {label!r} must be 0 or 1 on every row; {found}")
    return values.astype("int8")


def split(frame: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded random hold-out; never empty on either side when both are asked for."""
    if fraction <= 0 or len(frame) < 2:
        return frame, frame.iloc[0:0]
    rng = np.random.default_rng(seed)
    held_out = rng.random(len(frame)) < fraction
    if held_out.all() or not held_out.any():
        held_out[:] = False
        held_out[0] = True
    return frame[~held_out], frame[held_out]


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, header=False, lineterminator="\n").encode("utf-8")


def run_train(options: dict[str, str], module) -> str:
    source, dest, label, id_column = options["S3_SOURCE"], options["S3_DEST"], options["LABEL"], options["ID_COLUMN"]
    frame = read_landed_csv(source, id_column)
    check_ids(frame, source, id_column)
    labels = check_label(frame, source, label)
    schema = module.learn_schema(frame, id_column=id_column, label=label)
    features, _ = module.transform(frame, schema)
    schema["features"] = list(features.columns)
    extract = pd.concat([labels.rename(label), features], axis=1)
    train, validation = split(extract, float(options["VALIDATION_FRACTION"]), int(options["SEED"]))
    write_bytes(dest + TRAIN_FILE, csv_bytes(train))
    if len(validation):
        write_bytes(dest + VALIDATION_FILE, csv_bytes(validation))
    write_bytes(dest + SCHEMA_FILE, json.dumps(schema, indent=2).encode("utf-8"))
    return (
        f"{len(train)} training and {len(validation)} validation rows with {len(features.columns)} features to {dest}"
    )


def run_score(options: dict[str, str], module) -> str:
    source, dest, label, id_column = options["S3_SOURCE"], options["S3_DEST"], options["LABEL"], options["ID_COLUMN"]
    if not options["SCHEMA_URI"]:
        raise TransformError("--SCHEMA_URI is required with --KIND score (the training schema)")
    schema = json.loads(read_bytes(options["SCHEMA_URI"]))
    frame = read_landed_csv(source, id_column)
    check_ids(frame, source, id_column)
    if label in frame.columns:
        print(f"warning: {source}: label column {label!r} found in scoring data; it is ignored", file=sys.stderr)
        frame = frame.drop(columns=[label])
    missing = [c for c in schema["input_columns"] if c not in frame.columns and c not in schema["dropped_columns"]]
    if missing:
        raise TransformError(f"{source}: columns the model was trained on are missing: {', '.join(missing)}")
    features, unknown = module.transform(frame, schema)
    for column, count in unknown.items():
        print(
            f"warning: {source}: {count} row(s) have {column!r} values unseen in training; scored as other",
            file=sys.stderr,
        )
    extract = pd.concat([frame[id_column], features[schema["features"]]], axis=1)
    write_bytes(dest + SCORE_FILE, csv_bytes(extract))
    return f"{len(extract)} scoring rows with {len(schema['features'])} features to {dest}"


def main(argv: list[str] | None = None) -> str:
    options = resolved_options(sys.argv[1:] if argv is None else argv, REQUIRED, DEFAULTS)
    if options["KIND"] not in ("train", "score"):
        raise TransformError(f"--KIND must be train or score, got {options['KIND']!r}")
    if not options["S3_DEST"].endswith("/"):
        raise TransformError(f"--S3_DEST must be a prefix ending in '/', got {options['S3_DEST']!r}")
    module = importlib.import_module(options["TRANSFORM_MODULE"])
    run = run_train if options["KIND"] == "train" else run_score
    return run(options, module)


if __name__ == "__main__":
    try:
        print(f"transform: wrote {main()}")
    except TransformError as error:
        sys.exit(f"ERROR: {error}")
