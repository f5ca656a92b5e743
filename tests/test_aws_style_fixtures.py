"""The AWS-style fixtures in tests/fixtures/aws_style keep what makes them a fair test of the runtime.

They are written to AWS's contracts, not to this project's conventions: the container hard-codes
/opt/ml and /opt/program and installs a package the project lacks, the Glue script imports awsglue
and talks to S3 with plain boto3, the data has a spreadsheet's quirks. ``test_aws_style_pipeline``
and ``test_containers`` run them for real; here their invariants are held, so that no edit makes
them easier than what users bring.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import py_compile
import re
import runpy
import sys
from importlib import metadata
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "aws_style"
CONTAINER = FIXTURES / "container"
PROGRAM = CONTAINER / "program"
PREPARE = FIXTURES / "glue" / "prepare.py"
DATA = FIXTURES / "data"
GOLDEN = Path(__file__).parent / "golden"

LABEL, ID_COLUMN = "Churned", "customer_id"
#: Import name -> distribution name, where they differ.
DISTRIBUTION = {"sklearn": "scikit-learn"}


def glue_arguments(kind: str) -> dict[str, str]:
    """The Arguments of the glue:startJobRun.sync Task in the golden training or scoring definition."""
    definition = json.loads((GOLDEN / f"{'training' if kind == 'train' else 'scoring'}.asl.json").read_text())
    tasks = [s for s in definition["States"].values() if s.get("Resource", "").endswith(":glue:startJobRun.sync")]
    assert len(tasks) == 1
    return tasks[0]["Parameters"]["Arguments"]


def resolved_option_names(path: Path) -> list[list[str]]:
    """The option lists of every getResolvedOptions call in a script."""
    calls = [
        n
        for n in ast.walk(ast.parse(path.read_text()))
        if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "getResolvedOptions"
    ]
    return [ast.literal_eval(call.args[1]) for call in calls]


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module)
    return names


def pip_installs(dockerfile: str) -> dict[str, str]:
    """name -> pinned version of every package a ``RUN pip ... install`` line installs."""
    joined = dockerfile.replace("\\\n", " ")
    packages = {}
    for line in joined.splitlines():
        if re.match(r"\s*RUN\s+pip\b.*\binstall\b", line):
            for name, version in re.findall(r"([A-Za-z0-9_.-]+)==([0-9][^\s]*)", line):
                packages[name.lower()] = version
    return packages


def read_csv_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))


def test_landed_files_carry_the_quirks_of_a_spreadsheet_export():
    for name, rows in (("train.csv", 300), ("score.csv", 50)):
        raw = (DATA / name).read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf"), f"{name}: UTF-8 byte-order mark"
        assert b"\r\n" in raw and raw.count(b"\r\n") == raw.count(b"\n"), f"{name}: CRLF line endings"
        header, *body = read_csv_rows(DATA / name)
        assert len(body) == rows
        assert header.index(ID_COLUMN) > 0, "the id column is not the first column"
        assert "Income [/month]" in header and "Tenure (months)" in header
        ids = [row[header.index(ID_COLUMN)] for row in body]
        assert len(set(ids)) == len(ids)
        for column in ("Income [/month]", "Plan", "Support Calls"):
            assert any(row[header.index(column)] == "" for row in body), f"{name}: empty {column}"
        assert any('"' in line for line in raw.decode("utf-8-sig").splitlines()), "a quoted cell with a comma"
    header, *body = read_csv_rows(DATA / "train.csv")
    labels = [row[header.index(LABEL)] for row in body]
    assert set(labels) == {"Yes", "No"} and min(labels.count("Yes"), labels.count("No")) >= 30
    assert LABEL not in read_csv_rows(DATA / "score.csv")[0]


def test_make_data_writes_the_committed_files_byte_for_byte(tmp_path):
    runpy.run_path(str(DATA / "make_data.py"))["make"](str(tmp_path))
    for name in ("train.csv", "score.csv"):
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), f"regenerate {name} with make_data.py"


def test_glue_script_reads_only_arguments_the_state_machines_send():
    calls = resolved_option_names(PREPARE)
    required, optional = set(calls[0]), {name for call in calls[1:] for name in call}
    for kind in ("train", "score"):
        sent = {key.removesuffix(".$")[2:] for key in glue_arguments(kind)}
        assert required <= sent, (
            f"{kind}: the script requires {sorted(required - sent)} that the state machine never sends"
        )
    assert optional == {"SCHEMA_URI"}
    assert "--SCHEMA_URI.$" in glue_arguments("score") and "--SCHEMA_URI.$" not in glue_arguments("train")
    assert '"--SCHEMA_URI" in sys.argv' in PREPARE.read_text(), "optional arguments are looked up before resolving"


def test_glue_script_is_a_plain_python_shell_job():
    assert imported_modules(PREPARE) == {"sys", "io", "json", "boto3", "pandas", "awsglue.utils"}
    source = PREPARE.read_text()
    assert 'boto3.client("s3")' in source and "get_object(" in source and "put_object(" in source
    assert "open(" not in source and "awswrangler" not in source and "os.path" not in source


def test_train_hard_codes_the_sagemaker_paths_and_creates_no_folder():
    source = (PROGRAM / "train").read_text()
    assert source.startswith("#!/usr/bin/env python\n")
    for line in (
        "prefix = '/opt/ml/'",
        "input_path = prefix + 'input/data'",
        "output_path = os.path.join(prefix, 'output')",
        "model_path = os.path.join(prefix, 'model')",
        "param_path = os.path.join(prefix, 'input/config/hyperparameters.json')",
        "channel_name = 'train'",
        "validation_path = os.path.join(input_path, 'validation')",
        "os.path.join(model_path, 'model.joblib')",
        "open(os.path.join(output_path, 'failure'), 'w')",
        "sys.exit(255)",
        "pd.read_csv(file, index_col=0)",
    ):
        assert line in source, line
    assert not re.search(r"makedirs|mkdir", source), "SageMaker creates /opt/ml/model and /opt/ml/output"


def test_every_package_the_programs_import_is_installed_by_the_dockerfile():
    installed = set(pip_installs((CONTAINER / "Dockerfile").read_text()))
    local = {p.stem for p in PROGRAM.glob("*.py")}
    for program in ("train", "serve", "predictor.py", "wsgi.py"):
        top = {name.split(".")[0] for name in imported_modules(PROGRAM / program)}
        third_party = top - set(sys.stdlib_module_names) - local - {"__future__"}
        assert {DISTRIBUTION.get(n, n) for n in third_party} <= installed, program
    assert "gunicorn" in installed and "'gunicorn'" in (PROGRAM / "serve").read_text()


def test_tabulate_is_only_in_the_image_not_in_this_project():
    """The fixture needs one package the project does not install, so a runtime must install the image's own."""
    with pytest.raises(metadata.PackageNotFoundError):
        metadata.distribution("tabulate")


@pytest.mark.parametrize(
    "path",
    [
        "container/program/train",
        "container/program/serve",
        "container/program/predictor.py",
        "container/program/wsgi.py",
        "glue/prepare.py",
        "data/make_data.py",
    ],
)
def test_python_sources_compile(path, tmp_path):
    py_compile.compile(str(FIXTURES / path), cfile=str(tmp_path / "out.pyc"), doraise=True)


def test_programs_are_executable():
    for name in ("train", "serve"):
        assert (PROGRAM / name).stat().st_mode & 0o111 == 0o111, name
