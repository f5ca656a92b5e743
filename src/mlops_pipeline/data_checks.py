"""Checks of a landed CSV, run by the Glue job before any compute and by `local run` before it lands files.

Standalone (pandas and numpy only): deploy and the local runtime ship this file beside the Glue job's
entry point as ``mlops_data_checks.py``. Every problem is one line naming the file, the column, the
lines or the limit, and what to do. Structural problems (not UTF-8, empty, only a header, another
delimiter, a duplicated column name, a value too long to ever be scored, a missing, duplicated or multi-line
id, a label outside the mapping, text in a column declared numeric) are always errors; the checks
in :data:`DEFAULT_POLICIES` follow the workflow's policy: ``error`` stops the run, ``warning`` is
reported (console, execution summary, Glue log) and the run goes on, ``off`` skips the check.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

DEFAULT_POLICIES = {
    "min_rows": "error",  # fewer training rows than min_rows
    "class_count": "error",  # a label class with fewer rows than min_class_count (or missing)
    "text_in_numeric": "warning",  # text in a mostly numeric column (it becomes missing)
    "thousands_separators": "warning",  # numbers written with thousands separators (the column stays text)
    "unseen_categories": "warning",  # scoring values of a category training never saw
    "label_in_scoring": "warning",  # a label column in a scoring file (it is ignored)
}
DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe"}
NUMERIC_SHARE = 0.8  # a column whose non-empty values are at least this share numbers is numeric
EXAMPLES = 3
#: A number with thousands separators as spreadsheets export it: ``9,223``, ``-1,234,567.5``.
THOUSANDS = r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?"
MB = 1024 * 1024
#: SageMaker's default MaxPayloadInMB: "The default value is 6 MB" (CreateTransformJob, botocore's sagemaker model).
DEFAULT_PAYLOAD_MB = 6
SCAN_BYTES = 16 * MB  # the field-size scan looks at the file in pieces this big, to bound its memory


class DataCheckError(Exception):
    """The landed file cannot be used; the message says where and what to do."""


@dataclass
class CheckSettings:
    """The workflow's ``data`` settings, as the Glue job receives them (``--DATA_CHECKS`` JSON)."""

    label: str
    id_column: str
    positive: str | None = None
    label_values: dict[str, int] | None = None
    min_rows: int = 20
    min_class_count: int = 5
    policies: dict[str, str] = field(default_factory=dict)
    max_payload_mb: int = DEFAULT_PAYLOAD_MB  # inference.max_payload_mb; 0: no limit (chunked payloads)

    @classmethod
    def from_json(cls, label: str, id_column: str, text: str) -> "CheckSettings":
        return cls(label, id_column, **json.loads(text or "{}"))

    def policy(self, check: str) -> str:
        return self.policies.get(check, DEFAULT_POLICIES[check])


@dataclass
class Report:
    """What the checks found that is not an error; written next to the extract as ``report.json``."""

    settings: CheckSettings
    warnings: list[str] = field(default_factory=list)
    facts: dict = field(default_factory=dict)

    def problem(self, check: str, message: str) -> None:
        """Apply the check's policy to a finding."""
        policy = self.settings.policy(check)
        if policy == "error":
            raise DataCheckError(f"{message} [data.checks.policies[{check!r}] = 'error']")
        if policy == "warning":
            self.warnings.append(message)

    def to_json(self) -> bytes:
        return json.dumps({"warnings": self.warnings, **self.facts}, indent=2).encode("utf-8")


def read_landed(data: bytes, uri: str, settings: CheckSettings) -> pd.DataFrame:
    """The landed CSV, or the error that says why it cannot be read. Ids are text exactly as written
    (``007``, ``NA`` and ``null`` are ids; only an empty field is a missing one) and fit on one line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise DataCheckError(
            f"{uri}: not UTF-8 (byte 0x{data[error.start]:02x} on line {line}); save the file as UTF-8 CSV"
        ) from None
    if not text.strip():
        raise DataCheckError(f"{uri}: the file is empty; land a CSV with a header row and data rows")
    header = text.lstrip().split("\n", 1)[0]
    _check_delimiter(header, uri)
    names = _header_names(text)
    _check_distinct_names(names, uri)
    _check_value_sizes(data, uri, settings.max_payload_mb * MB, names)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype={settings.id_column: "string"})
    except pd.errors.ParserError as error:
        raise DataCheckError(f"{uri}: not a well-formed CSV ({error})") from None
    if frame.empty:
        raise DataCheckError(f"{uri}: the file has a header but no data rows")
    if settings.id_column in frame.columns:
        frame[settings.id_column] = _ids_as_written(frame[settings.id_column], text, settings.id_column)
        _check_one_line_ids(frame[settings.id_column], text, uri, settings.id_column)
    return frame


def _ids_as_written(ids: pd.Series, text: str, id_column: str) -> pd.Series:
    """pandas reads ``NA``, ``null``, ``nan``... as missing; an id column with such values is read again with
    only empty fields missing."""
    if not ids.isna().any():
        return ids
    again = pd.read_csv(io.StringIO(text), usecols=[id_column], dtype="string", keep_default_na=False, na_values=[""])
    return again[id_column].set_axis(ids.index)


def _check_one_line_ids(ids: pd.Series, text: str, uri: str, id_column: str) -> None:
    """Batch transform splits its input at line breaks (SplitType Line) and does not support CSV records with
    line breaks inside: an id that spans lines would break the scoring extract apart, so it is refused here."""
    broken = ids.str.contains(r"[\r\n]", regex=True).fillna(False).to_numpy(dtype=bool)
    if not broken.any():
        return
    starts = _record_lines(text)
    lines = [starts[row] for row in np.flatnonzero(broken)]
    examples = ", ".join(_one_line(value) for value in ids[broken].unique()[:EXAMPLES])
    raise DataCheckError(
        f"{uri}: '{id_column}' has a line break inside the value on {_named_lines(lines)}: {examples}; batch "
        f"transform reads one record per line, so each id must fit on one line"
    )


def _record_lines(text: str) -> list[int]:
    """The file line each data row starts on (the header is line 1), counting line breaks inside quoted
    fields (``\\r\\n``, ``\\n`` or ``\\r``, as pandas and editors count them); empty lines are skipped, as pandas
    skips them."""
    reader = csv.reader(io.StringIO(text, newline=None))
    starts, start = [], 1
    for row in reader:
        if row:
            starts.append(start)
        start = reader.line_num + 1
    return starts[1:]


def _one_line(value: str) -> str:
    return "'" + value.replace("\r", "\\r").replace("\n", "\\n") + "'"


def _header_names(text: str) -> list[str]:
    """The column names as written: pandas renames a repeated ``x`` to ``x.1``, which hides the repetition (read as
    a row, the header is not renamed; a malformed header is left to the full read, which says so). Only the first
    line is read, unless it has a quote (a quoted name may hold a line break)."""
    start = re.match(r"[\r\n]*", text).end()
    end = text.find("\n", start)
    first_line = text[start : end if end >= 0 else len(text)]
    try:
        header = text if '"' in first_line else first_line
        first = pd.read_csv(io.StringIO(header), header=None, nrows=1, dtype="string", keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError):
        return []
    return [str(name) for name in first.iloc[0].tolist()] if len(first) else []


def _check_distinct_names(names: list[str], uri: str) -> None:
    """Each column named once: pandas would read a second ``Age`` as ``Age.1``, a column no other file has.
    Empty names are left alone (pandas names them by position, as spreadsheets' trailing commas need)."""
    positions: dict[str, list[int]] = {}
    for position, name in enumerate(names, start=1):
        if name:
            positions.setdefault(name, []).append(position)
    repeated = [(name, where) for name, where in positions.items() if len(where) > 1]
    if repeated:
        found = "; ".join(
            f"column {_one_line(name)} appears {_times(len(at))} (columns {_and(at)})" for name, at in repeated
        )
        raise DataCheckError(f"{uri}: {found}; give each column its own name")


def _times(count: int) -> str:
    return "twice" if count == 2 else f"{count} times"


def _and(numbers: list[int]) -> str:
    return ", ".join(map(str, numbers[:-1])) + f" and {numbers[-1]}"


def _check_value_sizes(data: bytes, uri: str, limit: int, names: list[str]) -> None:
    """No value longer than ``limit`` bytes (MaxPayloadInMB): batch transform sends each record, and the scoring
    extract's header that names every category level, in requests of at most MaxPayloadInMB ("must be greater
    than, or equal to, the size of a single record", CreateTransformJob), so such a value could never be scored,
    and training on it first would cost gigabytes. A value is no longer than its record, so only a record over
    the limit is looked into: a file no bigger than the limit costs nothing, a bigger one one pass over its line
    breaks and quotes."""
    if not limit or len(data) <= limit:
        return
    raw = np.frombuffer(data, dtype=np.uint8)
    for start, end in _long_records(raw, limit, b'"' in data):
        sizes = _value_sizes(raw[start:end])
        if sizes.max() <= limit:
            continue
        column = int(sizes.argmax())
        name = f"column {_one_line(names[column])}" if start > 0 and column < len(names) else f"column {column + 1}"
        while end > start and data[end - 1] in b"\r\n":
            end -= 1
        lines = _line_at(data, end) - _line_at(data, start) + 1
        unclosed = f" (it runs over {lines} lines from a quote: is one left unclosed?)" if lines > 1 else ""
        raise DataCheckError(
            f"{uri}: line {_line_at(data, start)}, {name} holds a value of {int(sizes.max()):,} bytes{unclosed}, "
            f"over the {limit // MB} MB batch transform sends in one request (inference.max_payload_mb, SageMaker's "
            f"MaxPayloadInMB), so it could never be scored; shorten or remove it"
        )


def _long_records(raw: np.ndarray, limit: int, quoted: bool):
    """(start, end) byte offsets of the records longer than ``limit`` in a file's bytes: records end at line breaks
    outside quoted fields (an even number of quotes before them; RFC 4180 doubles a quote inside a field; a file
    without quotes, ``quoted`` False, is not searched for them)."""
    breaks, quotes = [], []
    for offset in range(0, len(raw), SCAN_BYTES):
        piece = raw[offset : offset + SCAN_BYTES]
        breaks.append(np.flatnonzero((piece == 10) | (piece == 13)) + offset)
        if quoted:
            quotes.append(np.flatnonzero(piece == 34) + offset)
    breaks = np.concatenate(breaks)
    if quoted:
        breaks = breaks[np.searchsorted(np.concatenate(quotes), breaks) % 2 == 0]
    ends = np.append(breaks, len(raw))
    starts = np.insert(breaks + 1, 0, 0)
    for index in np.flatnonzero(ends - starts > limit):
        yield int(starts[index]), int(ends[index])


def _value_sizes(raw: np.ndarray) -> np.ndarray:
    """The size in bytes of each value of one CSV record (its bytes), as written (commas inside quotes do not
    split)."""
    commas, quotes = np.flatnonzero(raw == 44), np.flatnonzero(raw == 34)
    commas = commas[np.searchsorted(quotes, commas) % 2 == 0]
    bounds = np.concatenate(([-1], commas, [len(raw)]))
    return np.diff(bounds) - 1


def _line_at(data: bytes, offset: int) -> int:
    """The file line (from 1) at a byte offset, counting ``\\r\\n``, ``\\n`` and ``\\r`` as one line break each."""
    return data.count(b"\n", 0, offset) + data.count(b"\r", 0, offset) - data.count(b"\r\n", 0, offset) + 1


def _check_delimiter(header: str, uri: str) -> None:
    if "," in header:
        return
    for delimiter, name in DELIMITERS.items():
        if header.count(delimiter) >= 1:
            raise DataCheckError(
                f"{uri}: looks {name}-delimited (its header has no comma and {header.count(delimiter)} "
                f"{name}s); land a comma-separated CSV"
            )


def check_ids(frame: pd.DataFrame, uri: str, id_column: str) -> None:
    if id_column not in frame.columns:
        raise DataCheckError(f"{uri}: id column '{id_column}' is missing (columns: {', '.join(frame.columns)})")
    ids = frame[id_column]
    if ids.isna().any():
        raise DataCheckError(f"{uri}: '{id_column}' is empty on {_lines(ids.isna())}")
    duplicated = ids[ids.duplicated()].unique().tolist()
    if duplicated:
        raise DataCheckError(f"{uri}: duplicate '{id_column}' values: {', '.join(map(str, duplicated[:5]))}")


def labels_of(frame: pd.DataFrame, uri: str, settings: CheckSettings) -> pd.Series:
    """The label as 0/1: mapped as the workflow says (``positive`` or ``label_values``; case and surrounding
    spaces do not matter), else it must already be 0/1."""
    label = settings.label
    if label not in frame.columns:
        raise DataCheckError(f"{uri}: label column '{label}' is missing (columns: {', '.join(frame.columns)})")
    raw = frame[label]
    if raw.isna().any():
        raise DataCheckError(f"{uri}: label '{label}' is empty on {_lines(raw.isna())}")
    keys = raw.astype("string").str.strip().str.casefold()
    mapped = keys.map(_label_mapping(settings, keys, uri))
    unmapped = mapped.isna()
    if unmapped.any():
        found = raw[unmapped].astype("string").str.strip().value_counts()
        values = ", ".join(f"{value} ({_rows(count)})" for value, count in found.items())
        raise DataCheckError(
            f"{uri}: label '{label}' has values the workflow does not map: {values}; it maps "
            f"{_mapped(settings)} (set data.positive or data.label_values)"
        )
    labels = mapped.astype("int8")
    spelled = raw.astype("string").str.strip().groupby(labels).agg(lambda values: values.mode().iloc[0])
    labels.attrs["names"] = {int(k): str(v) for k, v in spelled.items()}  # for messages: Yes/No, not 1/0
    return labels


def _label_mapping(settings: CheckSettings, keys: pd.Series, uri: str) -> dict[str, int]:
    """Normalised label value -> 0/1."""
    if settings.label_values:
        return {str(name).strip().casefold(): number for name, number in settings.label_values.items()}
    if settings.positive is not None:
        positive = str(settings.positive).strip().casefold()
        others = sorted(set(keys) - {positive})
        if len(others) > 1:
            raise DataCheckError(
                f"{uri}: label '{settings.label}' has {len(others)} values besides '{settings.positive}' "
                f"({', '.join(others)}); data.positive needs exactly one other, or set data.label_values"
            )
        return {positive: 1, **({others[0]: 0} if others else {})}
    return {"0": 0, "1": 1, "0.0": 0, "1.0": 1}


def _rows(count: int) -> str:
    return f"{count} row{'s' if count != 1 else ''}"


def _mapped(settings: CheckSettings) -> str:
    if settings.label_values:
        return ", ".join(f"{name} to {number}" for name, number in settings.label_values.items())
    if settings.positive is not None:
        return f"{settings.positive} to 1 and one other value to 0"
    return "0 and 1 only"


def _allowed(settings: CheckSettings) -> list[tuple[str, int]]:
    if settings.label_values:
        return [(str(k), v) for k, v in settings.label_values.items()]
    if settings.positive is not None:
        return [(str(settings.positive), 1), ("one other value", 0)]
    return [("0", 0), ("1", 1)]


def check_training(labels: pd.Series, uri: str, settings: CheckSettings, report: Report, name: str) -> None:
    """Enough rows, and every class with at least ``min_class_count`` rows; a validation split needs both
    classes, or the gate's metrics are undefined (``name``: "training file" or "validation split")."""
    whole_file = name == "training file"
    least = settings.min_class_count if whole_file else 1
    if whole_file and len(labels) < settings.min_rows:
        report.problem(
            "min_rows",
            f"{uri}: {len(labels)} data rows; training needs at least {settings.min_rows} (data.checks.min_rows)",
        )
    counts = {int(k): int(v) for k, v in labels.value_counts().items()}
    report.facts.setdefault("class_counts", {})[name] = {str(k): counts.get(k, 0) for k in (0, 1)}
    shown = f"label '{settings.label}' in the {name}: {_class_counts(counts, settings, labels.attrs.get('names', {}))}"
    if len(counts) < 2:
        report.problem(
            "class_count",
            f"{uri}: {shown}; a model needs both classes (at least {least} rows each{_setting(whole_file)})",
        )
    elif min(counts.values()) < least:
        report.problem("class_count", f"{uri}: {shown}; each class needs at least {least} rows{_setting(whole_file)}")


def _setting(whole_file: bool) -> str:
    return ", data.checks.min_class_count" if whole_file else "; land more rows or raise transform.validation_fraction"


def _class_counts(counts: dict[int, int], settings: CheckSettings, spelled: dict[int, str]) -> str:
    names = {number: name for name, number in _allowed(settings) if name != "one other value"} | spelled
    return ", ".join(f"{_rows(counts.get(k, 0))} of {names.get(k, k)}" for k in (1, 0))


def numeric_columns_with_text(
    frame: pd.DataFrame, uri: str, report: Report, columns=None, declared_by: str = ""
) -> list[str]:
    """Columns that are numbers but for some text (``n/a``, ``1,200``): reported with the count, the first
    lines and examples; the text becomes a missing value. ``columns``: the ones declared numeric (``declared_by``
    says where: the training schema, the transform's ``NUMERIC_COLUMNS``), where mostly text is an error, since
    reading most of a column as missing would train or score on nothing; else those whose non-empty values are
    mostly numbers (and a column of numbers with thousands separators is reported, see ``_separators``)."""
    found = []
    for name in columns if columns is not None else frame.columns:
        if name not in frame.columns or pd.api.types.is_numeric_dtype(frame[name]):
            continue
        column = _Column.of(frame[name])
        if not column.text.any():
            continue
        text = column.rows(column.text)
        mostly_text = 1 - text.sum() / column.present_rows() < NUMERIC_SHARE
        if mostly_text and columns is None:
            _separators(column, name, uri, report)
            continue
        where, examples = _lines(text), column.examples(text)
        if mostly_text:
            raise DataCheckError(
                f"{uri}: column '{name}' must hold numbers ({declared_by}) but {int(text.sum())} of its "
                f"{column.present_rows()} values are text ({where}): {examples}{_separators_hint(column)}"
            )
        report.problem(
            "text_in_numeric",
            f"{uri}: column '{name}' is numeric but has text on {_rows(int(text.sum()))} ({where}): {examples}; it is "
            f"read as missing{_separators_hint(column)}",
        )
        found.append(name)
    return found


def columns_with_separators(frame: pd.DataFrame, uri: str, report: Report) -> list[str]:
    """Text columns that are numbers written with thousands separators (``9,223``), reported (for `local run`
    before it lands files, whatever the transform)."""
    return [
        name
        for name in frame.columns
        if not pd.api.types.is_numeric_dtype(frame[name]) and _separators(_Column.of(frame[name]), name, uri, report)
    ]


def _separators(column: "_Column", name: str, uri: str, report: Report) -> bool:
    """Report a column whose values are mostly numbers once thousands separators are allowed. They are not read
    as numbers: ``1,200`` is 1200 where the comma groups thousands and 1.2 where it is the decimal mark (German,
    French, Dutch...), and a column of values such as ``9,223`` reads either way, so a guess could silently scale
    a feature by 1000; the user removes the separators instead."""
    separated = column.separated()
    if not separated.any() or 1 - column.rows(column.text & ~separated).sum() / column.present_rows() < NUMERIC_SHARE:
        return False
    rows = column.rows(separated)
    report.problem(
        "thousands_separators",
        f"{uri}: column '{name}' looks numeric with thousands separators on {_rows(int(rows.sum()))} "
        f"({_lines(rows)}): {column.examples(rows)}; it is read as text: remove the separators to use it as a number",
    )
    return True


def _separators_hint(column: "_Column") -> str:
    separated = column.separated()
    if not separated.any():
        return ""
    example = str(column.values.to_numpy()[separated][0])
    return f"; numbers with thousands separators are text: write {example.replace(',', '')}, not {example}"


@dataclass
class _Column:
    """One column as the checks see it: its distinct values as stripped text, each row's code into them (missing:
    -1), and per distinct value whether it is a value and whether it is text; each distinct value is looked at
    once (a category column of 100 000 rows has a handful)."""

    codes: np.ndarray
    values: pd.Series
    present: np.ndarray
    text: np.ndarray

    @classmethod
    def of(cls, column: pd.Series) -> "_Column":
        codes, values = _distinct_stripped(column)
        present = (values.fillna("") != "").to_numpy(dtype=bool)
        return cls(codes, values, present, present & pd.to_numeric(values, errors="coerce").isna().to_numpy(dtype=bool))

    def rows(self, per_value: np.ndarray) -> np.ndarray:
        """Which rows hold one of the flagged distinct values."""
        return _per_row(self.codes, per_value)

    def present_rows(self) -> int:
        return int(self.rows(self.present).sum())

    def separated(self) -> np.ndarray:
        """Which distinct values are numbers with thousands separators."""
        return self.values.str.fullmatch(THOUSANDS).fillna(False).to_numpy(dtype=bool) & self.present

    def examples(self, rows: np.ndarray) -> str:
        shown = self.values.to_numpy()[pd.unique(self.codes[rows])]
        return ", ".join(f"'{value}'" for value in list(dict.fromkeys(shown))[:EXAMPLES])


def _distinct_stripped(column: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """(each row's code, the column's distinct values as stripped text): the checks look at each distinct value
    once (a category column of 100 000 rows has a handful), missing values are code -1."""
    codes, distinct = pd.factorize(column)
    return codes, pd.Series(distinct, dtype="string").str.strip()


def _per_row(codes: np.ndarray, per_value: np.ndarray) -> np.ndarray:
    """A per-distinct-value flag for every row (False for a missing value)."""
    flags = np.append(per_value.astype(bool), False)  # code -1 reads the appended False
    return flags[codes]


def baseline_metrics(labels: pd.Series) -> dict[str, float]:
    """What a model that learnt nothing scores on these labels: always the majority class (accuracy,
    precision, recall, f1), a constant score (ROC AUC 0.5), the class share as probability (log loss)."""
    if len(labels) == 0:
        return {}
    share = float(labels.mean())
    majority = 1 if share >= 0.5 else 0
    recall = 1.0 if majority == 1 else 0.0
    precision = share if majority == 1 else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    clipped = min(max(share, 1e-7), 1 - 1e-7)
    logloss = -(share * math.log(clipped) + (1 - share) * math.log(1 - clipped))
    return {
        "accuracy": max(share, 1 - share),
        "roc_auc": 0.5,
        "auc": 0.5,
        "f1": f1,
        "precision": precision,
        "recall": recall,
        "logloss": logloss,
    }


def _lines(mask) -> str:
    """``line 5`` or ``lines 5, 9, 12, ...``: file lines (the header is line 1) of the first rows in ``mask``."""
    return _named_lines((np.flatnonzero(np.asarray(mask, dtype=bool)) + 2).tolist())


def _named_lines(lines: list[int]) -> str:
    shown = ", ".join(map(str, lines[:EXAMPLES])) + (", ..." if len(lines) > EXAMPLES else "")
    return f"line{'s' if len(lines) > 1 else ''} {shown}"


def check_header_size(names: list[str], inputs: list[str], uri: str, settings: CheckSettings) -> None:
    """The scoring extract's header (``names``: the id and every feature) fits in one batch transform request:
    split by line, the header is a record like any other, so a header over MaxPayloadInMB fails every scoring.
    One-hot features name every category level, so a column with many long distinct values makes it long; the
    message names the landed column (of ``inputs``) whose features take the most of it."""
    limit = settings.max_payload_mb * MB
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(names)
    size = len(buffer.getvalue().encode("utf-8"))
    if not limit or size <= limit:
        return
    share: dict[str, list[int]] = {}
    for name in names:
        column = max((c for c in inputs if name.startswith(c)), key=len, default=None)
        if column is not None:
            share.setdefault(column, []).append(len(name.encode("utf-8")) + 1)
    culprit = max(share.items(), key=lambda item: sum(item[1]), default=None)
    blamed = (
        f": column '{culprit[0]}' becomes {len(culprit[1]):,} features, {sum(culprit[1]):,} bytes of names "
        f"(one per distinct value); group its rare values or drop it"
        if culprit
        else ""
    )
    raise DataCheckError(
        f"{uri}: the scoring extract's header would be {size:,} bytes, over the {limit // MB} MB batch transform "
        f"sends in one request (inference.max_payload_mb, SageMaker's MaxPayloadInMB){blamed}"
    )


def preflight(
    path, kind: str, settings: CheckSettings, labels: bool = True, training_columns=None, report: Report | None = None
) -> list[str]:
    """The checks that need no training (for `local run`, before anything runs): the file can be read, its ids,
    and for a training file its label; for a scoring file the training file's columns; numbers written with
    thousands separators (into ``report``). Its columns."""
    with open(path, "rb") as handle:
        data = handle.read()
    frame = read_landed(data, str(path), settings)
    check_ids(frame, str(path), settings.id_column)
    report = Report(settings) if report is None else report
    if kind == "train" and labels:
        check_training(labels_of(frame, str(path), settings), str(path), settings, report, "training file")
    if kind == "score" and training_columns is not None:
        missing = [c for c in training_columns if c not in frame.columns and c != settings.label]
        if missing:
            raise DataCheckError(f"{path}: columns of the training file are missing: {', '.join(missing)}")
    if b'"' in data:  # a value with a comma is quoted, so a file without quotes has no thousands separators
        inputs = frame.drop(columns=[settings.id_column, settings.label], errors="ignore")
        columns_with_separators(inputs, str(path), report)
    return list(frame.columns)
