"""Glue job entry point: read the landed CSV, validate it, transform it, write the extract.

Arguments (``--KEY value``, as ``getResolvedOptions`` reads them):
  --KIND train|score          what the landed file is
  --S3_SOURCE URI             the landed CSV (s3://... on AWS, a local path locally); never modified; the
                              state machines pass the execution's own copy of the landed version
  --LANDED_URI URI            where the file landed, as messages name it (default: --S3_SOURCE)
  --S3_DEST URI               extract prefix, ending in '/'
  --LABEL, --ID_COLUMN        column names
  --TRANSFORM_MODULE NAME     module with learn_schema() and transform() (shipped with --extra-py-files)
  --VALIDATION_FRACTION F     share of training rows held out for validation (default 0.2)
  --SEED N                    split seed (default 42)
  --SCHEMA_URI URI            scoring only: the training schema (features, category levels)
  --DATA_CHECKS JSON          the workflow's data settings: label mapping, minimums, check policies

The landed file is checked first (``mlops_data_checks``, shipped beside this script). Training
writes ``train/train.csv`` and ``validation/validation.csv`` (label first as 0/1, no header) and
``train/schema.json`` (the feature order ``train`` and ``predictor.py`` check against). Scoring
writes ``score/score.csv``: a header, then the id first and the same features. Both write
``report.json`` (warnings, class counts, the baseline metrics of the validation labels).
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

try:  # on Glue, deploy ships it beside this script (--extra-py-files)
    import mlops_data_checks as checks
except ImportError:  # run from a checkout with the package installed
    from mlops_pipeline import data_checks as checks

REQUIRED = ("KIND", "S3_SOURCE", "S3_DEST", "LABEL", "ID_COLUMN", "TRANSFORM_MODULE")
DEFAULTS = {"VALIDATION_FRACTION": "0.2", "SEED": "42", "SCHEMA_URI": "", "DATA_CHECKS": "{}", "LANDED_URI": ""}
TRAIN_FILE, VALIDATION_FILE, SCORE_FILE, SCHEMA_FILE, REPORT_FILE = (
    "train/train.csv",
    "validation/validation.csv",
    "score/score.csv",
    "train/schema.json",
    "report.json",
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
    """Atomic for local files (temp + rename, the temp removed on failure); S3 objects appear whole anyway."""
    if uri.startswith("s3://"):
        import awswrangler as wr

        wr.s3.upload(local_file=io.BytesIO(data), path=uri)
        return
    path = Path(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_landed_csv(uri: str, landed: str, settings) -> pd.DataFrame:
    """The landed file read from ``uri``, checked: encoding, emptiness, delimiter, ids (messages name ``landed``)."""
    frame = checks.read_landed(read_bytes(uri), landed, settings)
    checks.check_ids(frame, landed, settings.id_column)
    return frame


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


def csv_bytes(frame: pd.DataFrame, header: bool = False) -> bytes:
    return frame.to_csv(index=False, header=header, lineterminator="\n").encode("utf-8")


def settings_of(options: dict[str, str]):
    return checks.CheckSettings.from_json(options["LABEL"], options["ID_COLUMN"], options["DATA_CHECKS"])


def run_train(options: dict[str, str], module) -> str:
    source, dest, label = options["LANDED_URI"] or options["S3_SOURCE"], options["S3_DEST"], options["LABEL"]
    settings = settings_of(options)
    report = checks.Report(settings)
    frame = read_landed_csv(options["S3_SOURCE"], source, settings)
    labels = checks.labels_of(frame, source, settings)
    checks.check_training(labels, source, settings, report, "training file")
    inputs = frame.drop(columns=[label, settings.id_column])
    declared = [c for c in getattr(module, "NUMERIC_COLUMNS", ()) if c in inputs.columns]
    for column in [
        *checks.numeric_columns_with_text(inputs, source, report, declared, f"{module.__name__}.NUMERIC_COLUMNS"),
        *checks.numeric_columns_with_text(inputs.drop(columns=declared), source, report),
    ]:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    schema = module.learn_schema(frame, id_column=settings.id_column, label=label)
    features, _ = module.transform(frame, schema)
    schema["features"] = list(features.columns)
    checks.check_header_size([settings.id_column, *schema["features"]], list(inputs.columns), source, settings)
    extract = pd.concat([labels.rename(label), features], axis=1)
    train, validation = split(extract, float(options["VALIDATION_FRACTION"]), int(options["SEED"]))
    if len(validation):
        checks.check_training(validation[label], source, settings, report, "validation split")
    report.facts["baseline"] = checks.baseline_metrics(validation[label] if len(validation) else train[label])
    write_bytes(dest + TRAIN_FILE, csv_bytes(train))
    if len(validation):
        write_bytes(dest + VALIDATION_FILE, csv_bytes(validation))
    write_bytes(dest + SCHEMA_FILE, json.dumps(schema, indent=2).encode("utf-8"))
    finish(report, dest)
    return (
        f"{len(train)} training and {len(validation)} validation rows with {len(features.columns)} features to {dest}"
    )


def run_score(options: dict[str, str], module) -> str:
    source, dest, label = options["LANDED_URI"] or options["S3_SOURCE"], options["S3_DEST"], options["LABEL"]
    if not options["SCHEMA_URI"]:
        raise TransformError("--SCHEMA_URI is required with --KIND score (the training schema)")
    settings = settings_of(options)
    report = checks.Report(settings)
    schema = json.loads(read_bytes(options["SCHEMA_URI"]))
    frame = read_landed_csv(options["S3_SOURCE"], source, settings)
    if label in frame.columns:
        report.problem("label_in_scoring", f"{source}: label column '{label}' is in the scoring file; it is ignored")
        frame = frame.drop(columns=[label])
    missing = [c for c in schema["input_columns"] if c not in frame.columns and c not in schema["dropped_columns"]]
    if missing:
        raise TransformError(f"{source}: columns the model was trained on are missing: {', '.join(missing)}")
    numeric = schema["numeric_columns"]
    for column in checks.numeric_columns_with_text(frame, source, report, numeric, "as in the training file"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")  # the transform computes with the numbers
    checks.check_header_size([settings.id_column, *schema["features"]], list(frame.columns), source, settings)
    features, unknown = module.transform(frame, schema)
    for column, count in unknown.items():
        rows = f"{count} row{'s' if count != 1 else ''}"
        report.problem(
            "unseen_categories", f"{source}: {rows} with '{column}' values training never saw; scored as other"
        )
    extract = pd.concat([frame[settings.id_column], features[schema["features"]]], axis=1)
    write_bytes(dest + SCORE_FILE, csv_bytes(extract, header=True))
    finish(report, dest)
    return f"{len(extract)} scoring rows with {len(schema['features'])} features to {dest}"


def finish(report, dest: str) -> None:
    """Warnings in the log and in ``report.json``, which the state machine reads into the execution."""
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    write_bytes(dest + REPORT_FILE, report.to_json())


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
    except (TransformError, checks.DataCheckError) as error:
        sys.exit(f"ERROR: {error}")
