"""The AWS-style fixtures in tests/fixtures/aws_style are self-consistent, checked without the local runtime.

They are written to AWS's contracts, not to this project's conventions: the container hard-codes
/opt/ml and /opt/program, the Glue script imports awsglue and talks to S3 with plain boto3. Here
they are exercised the way AWS would run them, with nothing from ``mlops_pipeline``:

- the Glue script runs in-process with the job arguments the rendered state machines send
  (read from the golden ASL files), against moto's in-process S3, with a stand-in ``awsglue``
  on the path for the test only;
- the container's ``train`` and ``predictor.py`` run in-process with their ``/opt/ml/`` prefix
  pointed at a temporary folder laid out as SageMaker lays out /opt/ml (nothing is created under
  /opt); ``tabulate``, which only the container's image installs, is a stand-in here;
- everything else is checked statically: paths, Dockerfile, sample-derived files, data quirks.
"""

from __future__ import annotations

import ast
import contextlib
import csv
import io
import json
import py_compile
import re
import runpy
import sys
import types
from dataclasses import dataclass
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
#: What a CreateTrainingJob / tuning job for this container would carry (the README documents it).
METRIC_DEFINITIONS = [
    {"Name": "train:auc", "Regex": r"train:auc=([0-9\.]+)"},
    {"Name": "validation:auc", "Regex": r"validation:auc=([0-9\.]+)"},
    {"Name": "validation:accuracy", "Regex": r"validation:accuracy=([0-9\.]+)"},
    {"Name": "validation:logloss", "Regex": r"validation:logloss=([0-9\.]+)"},
]
HYPERPARAMETERS = {"label": LABEL, "C": "0.5", "max_iter": "200", "_tuning_objective_metric": "validation:auc"}
DOCKERFILE_PINS = {
    "flask": "3.1.3",
    "gunicorn": "27.0.1",
    "pandas": "3.1.1",
    "scikit-learn": "1.9.1",
    "joblib": "1.6.0",
    "tabulate": "0.10.0",
}
#: Import name -> distribution name, where they differ.
DISTRIBUTION = {"sklearn": "scikit-learn"}

SAGEMAKER_PREFIX_LINES = {"train": "prefix = '/opt/ml/'", "predictor.py": 'prefix = "/opt/ml/"'}

#: A stand-in for the Glue Python shell's awsglue.utils, parsing like awslabs/aws-glue-libs:
#: every requested option is required, unknown arguments (Glue's own, --extra-py-files) are ignored.
AWSGLUE_UTILS = """
import argparse


class GlueArgumentError(Exception):
    pass


class GlueArgumentParser(argparse.ArgumentParser):
    def error(self, msg):
        raise GlueArgumentError(msg)


def getResolvedOptions(args, options):
    parser = GlueArgumentParser(allow_abbrev=False)
    for reserved in ("--job-bookmark-option", "--JOB_ID", "--JOB_RUN_ID", "--SECURITY_CONFIGURATION", "--TempDir"):
        parser.add_argument(reserved, required=False)
    for option in options:
        parser.add_argument("--" + option, required=True)
    parsed, _ = parser.parse_known_args(args[1:])
    return vars(parsed)
"""
#: Arguments Glue itself adds to every run, before the job's own.
GLUE_OWN_ARGUMENTS = [
    "--job-bookmark-option",
    "job-bookmark-disable",
    "--JOB_ID",
    "j_0123",
    "--JOB_RUN_ID",
    "jr_0123",
    "--JOB_NAME",
    "attrition-transform",
]
LANDED_BUCKET = "attrition-feature-store"
LANDED_KEYS = {"train": "data/train/customers 2024-06 (export).csv", "score": "data/score/customers 2024-07.csv"}
JOB_STEMS = {"train": "customers-2024-06-export-3f2a", "score": "customers-2024-07-9c1d"}


def stub_tabulate(rows, headers=(), floatfmt="g"):
    lines = ["  ".join(map(str, headers))]
    lines += ["  ".join(format(v, floatfmt) if isinstance(v, float) else str(v) for v in row) for row in rows]
    return "\n".join(lines)


# --- reading the fixtures -------------------------------------------------------------------


def glue_arguments(kind: str) -> dict[str, str]:
    """The Arguments of the glue:startJobRun.sync Task in the golden training or scoring definition."""
    definition = json.loads((GOLDEN / f"{'training' if kind == 'train' else 'scoring'}.asl.json").read_text())
    tasks = [s for s in definition["States"].values() if s.get("Resource", "").endswith(":glue:startJobRun.sync")]
    assert len(tasks) == 1
    return tasks[0]["Parameters"]["Arguments"]


def resolve(value: str, state: dict[str, str]) -> str:
    """The value of a ``.$`` argument for a given execution input: a path or States.Format of paths."""
    if value.startswith("$."):
        return state[value]
    match = re.fullmatch(r"States\.Format\('([^']*)'((?:, \$[\w.]+)*)\)", value)
    assert match, value
    paths = [p.strip() for p in match.group(2).split(",") if p.strip()]
    return match.group(1).format(*(state[p] for p in paths))


def job_argv(kind: str, state: dict[str, str], overrides: dict[str, str]) -> list[str]:
    """sys.argv of the Glue job run the state machine starts: Glue's own arguments, then the Task's."""
    argv = [str(PREPARE), *GLUE_OWN_ARGUMENTS]
    for key, value in glue_arguments(kind).items():
        name = key[:-2] if key.endswith(".$") else key
        value = resolve(value, state) if key.endswith(".$") else value
        argv += [name, overrides.get(name[2:], value)]
    return argv


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


def exec_with_ml_prefix(program: Path, root: Path, run_name: str) -> dict:
    """Run a program's source with its hard-coded /opt/ml/ prefix pointed at ``root``."""
    source = program.read_text()
    line = SAGEMAKER_PREFIX_LINES[program.name]
    assert source.count(line) == 1, f"{program.name} must hard-code {line}"
    namespace = {"__name__": run_name, "__file__": str(program)}
    exec(compile(source.replace(line, f"prefix = {str(root) + '/'!r}"), str(program), "exec"), namespace)
    return namespace


def opt_ml(root: Path, channels: dict[str, dict[str, bytes]], hyperparameters: dict[str, str]) -> Path:
    """An /opt/ml as SageMaker prepares it before ``train`` starts: config, channels, model/ and output/."""
    (root / "input" / "config").mkdir(parents=True)
    (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    for channel, files in channels.items():
        folder = root / "input" / "data" / channel
        folder.mkdir(parents=True)
        for name, body in files.items():
            (folder / name).write_bytes(body)
    (root / "model").mkdir()
    (root / "output" / "data").mkdir(parents=True)
    return root


def run_train(root: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "tabulate", types.SimpleNamespace(tabulate=stub_tabulate))
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exited:
            exec_with_ml_prefix(PROGRAM / "train", root, "__main__")
    return exited.value.code, out.getvalue(), err.getvalue()


# --- one run of the whole chain, shared by the dynamic tests -------------------------------------


@dataclass
class Run:
    extracts: dict[str, bytes]  # key in the extracts bucket -> body
    content_types: dict[str, str]
    glue_logs: dict[str, str]
    argv: dict[str, list[str]]
    ml_root: Path
    train_exit: int
    train_log: str


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:
    """Land both files, run the Glue job for each kind, then train on the training extract."""
    import boto3
    from moto import mock_aws

    stub = tmp_path_factory.mktemp("glue-python-shell")
    (stub / "awsglue").mkdir()
    (stub / "awsglue" / "__init__.py").write_text("")
    (stub / "awsglue" / "utils.py").write_text(AWSGLUE_UTILS)
    extracts_bucket = re.match(
        r"s3://([^/]+)/", resolve(glue_arguments("train")["--S3_DEST.$"], {"$.job_stem": "x"})
    ).group(1)
    logs, argvs = {}, {}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            patch.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            patch.delenv(name, raising=False)
        patch.syspath_prepend(str(stub))
        try:
            with mock_aws():
                s3 = boto3.client("s3")
                for bucket in (LANDED_BUCKET, extracts_bucket):
                    s3.create_bucket(Bucket=bucket)
                for kind in ("train", "score"):
                    s3.put_object(Bucket=LANDED_BUCKET, Key=LANDED_KEYS[kind], Body=(DATA / f"{kind}.csv").read_bytes())
                # The approval record's schema_uri: the training run's S3_DEST + train/schema.json.
                schema_uri = (
                    resolve(glue_arguments("train")["--S3_DEST.$"], {"$.job_stem": JOB_STEMS["train"]})
                    + "train/schema.json"
                )
                for kind in ("train", "score"):
                    state = {
                        "$.bucket": LANDED_BUCKET,
                        "$.key": LANDED_KEYS[kind],
                        "$.job_stem": JOB_STEMS[kind],
                        "$.approved.record.schema_uri": schema_uri,
                    }
                    argvs[kind] = job_argv(kind, state, {"LABEL": LABEL, "ID_COLUMN": ID_COLUMN})
                    patch.setattr(sys, "argv", argvs[kind])
                    out = io.StringIO()
                    with contextlib.redirect_stdout(out):
                        runpy.run_path(str(PREPARE), run_name="__main__")
                    logs[kind] = out.getvalue()
                listed = s3.list_objects_v2(Bucket=extracts_bucket).get("Contents", [])
                extracts, content_types = {}, {}
                for item in listed:
                    got = s3.get_object(Bucket=extracts_bucket, Key=item["Key"])
                    extracts[item["Key"]], content_types[item["Key"]] = got["Body"].read(), got["ContentType"]
        finally:
            for name in [n for n in sys.modules if n == "awsglue" or n.startswith("awsglue.")]:
                del sys.modules[name]

    # SageMaker copies every object under a channel's S3Prefix into /opt/ml/input/data/<channel>/.
    train_prefix, validation_prefix = (f"attrition/{JOB_STEMS['train']}/{c}/" for c in ("train", "validation"))
    channels = {
        channel: {key[len(prefix) :]: body for key, body in extracts.items() if key.startswith(prefix)}
        for channel, prefix in (("train", train_prefix), ("validation", validation_prefix))
    }
    root = opt_ml(tmp_path_factory.mktemp("opt-ml"), channels, HYPERPARAMETERS)
    code, log, _ = run_train(root)
    return Run(extracts, content_types, logs, argvs, root, code, log)


def extract(run: Run, kind: str, name: str) -> bytes:
    return run.extracts[f"attrition/{JOB_STEMS[kind]}/{name}"]


def predictor_app(model_dir_root: Path):
    return exec_with_ml_prefix(PROGRAM / "predictor.py", model_dir_root, "predictor")["app"]


# --- data --------------------------------------------------------------------------------------


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


# --- Glue script -------------------------------------------------------------------------------


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


def test_glue_training_run_writes_headered_extracts_and_the_schema(run):
    train = pd_read(extract(run, "train", "train/train.csv"))
    validation = pd_read(extract(run, "train", "validation/validation.csv"))
    schema = json.loads(extract(run, "train", "train/schema.json"))
    assert extract(run, "train", "train/train.csv").startswith(f"{ID_COLUMN},{LABEL},".encode())
    assert not extract(run, "train", "train/train.csv").startswith(b"\xef\xbb\xbf")
    assert len(train) + len(validation) == 300 and len(validation) == 60
    assert set(train.index).isdisjoint(validation.index)
    assert set(train[LABEL]) == {0, 1} and set(validation[LABEL]) == {0, 1}
    assert schema["id_column"] == ID_COLUMN and schema["label"] == LABEL
    assert schema["features"] == [c for c in train.columns if c != LABEL]
    assert "Income [/month]" in schema["features"] and "Notes" not in schema["features"]
    assert {"Plan_Basic", "Plan_Premium", "Plan_Standard"} <= set(schema["features"])
    assert not train.isna().any().any() and not validation.isna().any().any()
    assert run.content_types[f"attrition/{JOB_STEMS['train']}/train/train.csv"] == "text/csv"
    assert "train: 240 rows, validation: 60 rows" in run.glue_logs["train"]


def test_glue_scoring_run_reads_the_schema_back_and_keeps_the_landed_order(run):
    schema = json.loads(extract(run, "train", "train/schema.json"))
    score = pd_read(extract(run, "score", "score/score.csv"))
    header, *landed = read_csv_rows(DATA / "score.csv")
    assert list(score.index) == [row[header.index(ID_COLUMN)] for row in landed]
    assert list(score.columns) == schema["features"] and not score.isna().any().any()
    assert sorted(k.split("/", 2)[2] for k in run.extracts if JOB_STEMS["score"] in k) == ["score/score.csv"]


def test_glue_job_arguments_are_the_ones_the_state_machine_sends(run):
    argv = run.argv["score"]
    assert argv[argv.index("--S3_SOURCE") + 1] == f"s3://{LANDED_BUCKET}/{LANDED_KEYS['score']}"
    assert argv[argv.index("--SCHEMA_URI") + 1].endswith(f"/{JOB_STEMS['train']}/train/schema.json")
    assert "--extra-py-files" in argv and "--job-bookmark-option" in argv, "arguments the script ignores"


def test_schema_uri_of_the_approval_record_is_where_the_training_run_writes_it():
    definition = (GOLDEN / "training.asl.json").read_text()
    dest = glue_arguments("train")["--S3_DEST.$"]
    template = re.fullmatch(r"States\.Format\('([^']*)', \$\.job_stem\)", dest).group(1)
    assert f"States.Format('{template}train/schema.json', $.job_stem)" in definition


# --- container: train --------------------------------------------------------------------------


def test_train_reads_the_sagemaker_layout_and_writes_the_model(run):
    assert run.train_exit == 0, run.train_log
    assert sorted(p.name for p in (run.ml_root / "model").iterdir()) == ["features.json", "model.joblib"]
    assert not (run.ml_root / "output" / "failure").exists()
    features = json.loads((run.ml_root / "model" / "features.json").read_text())
    assert features["features"] == json.loads(extract(run, "train", "train/schema.json"))["features"]
    assert (run.ml_root / "input" / "data" / "train" / "schema.json").exists(), "non-CSV files in a channel are skipped"


def test_metric_definitions_find_each_metric_once_in_the_training_log(run):
    for definition in METRIC_DEFINITIONS:
        values = re.findall(definition["Regex"], run.train_log)
        assert len(values) == 1, (definition, run.train_log)
        assert 0 <= float(values[0]) <= (10 if definition["Name"].endswith("logloss") else 1)
    assert float(re.search(METRIC_DEFINITIONS[1]["Regex"], run.train_log).group(1)) > 0.6, "the data has signal"


def test_train_failure_writes_output_failure_and_exits_255(run, tmp_path):
    channels = {"train": {"train.csv": extract(run, "train", "train/train.csv")}}
    root = opt_ml(tmp_path / "ml", channels, {**HYPERPARAMETERS, "label": "churn"})
    code, _, err = run_train(root)
    assert code == 255
    failure = (root / "output" / "failure").read_text()
    assert failure.startswith("Exception during training: label column 'churn' is not in the data")
    assert "Traceback" in failure and "Exception during training" in err
    assert list((root / "model").iterdir()) == []


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


# --- container: serving ------------------------------------------------------------------------


def test_predictor_answers_ping_and_a_whole_headered_csv_file(run):
    client = predictor_app(run.ml_root).test_client()
    assert client.get("/ping").status_code == 200
    body = extract(run, "score", "score/score.csv")
    response = client.post("/invocations", data=body, content_type="text/csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    header, *rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert header == [ID_COLUMN, "probability", "label"]
    assert [row[0] for row in rows] == [line.split(",", 1)[0] for line in body.decode().splitlines()[1:]]
    assert all(0 <= float(p) <= 1 and label in {"0", "1"} for _, p, label in rows)
    assert {label for *_, label in rows} == {"0", "1"}


def test_predictor_refuses_other_content_and_missing_columns(run, tmp_path):
    client = predictor_app(run.ml_root).test_client()
    assert client.post("/invocations", data=b"{}", content_type="application/json").status_code == 415
    response = client.post("/invocations", data=b"customer_id,Plan_Basic\nC-1,1\n", content_type="text/csv")
    assert response.status_code == 400 and b"Income [/month]" in response.data
    (tmp_path / "model").mkdir()
    assert predictor_app(tmp_path).test_client().get("/ping").status_code == 404, "no model, not healthy"


def test_serve_wsgi_and_nginx_conf_are_the_samples():
    serve = (PROGRAM / "serve").read_text()
    assert serve.startswith("#!/usr/bin/env python\n")
    for text in (
        "os.environ.get('MODEL_SERVER_TIMEOUT', 60)",
        "int(os.environ.get('MODEL_SERVER_WORKERS', cpu_count))",
        "['nginx', '-c', '/opt/program/nginx.conf']",
        "'-b', 'unix:/tmp/gunicorn.sock'",
        "'wsgi:app'",
        "signal.signal(signal.SIGTERM, lambda a, b: sigterm_handler(nginx.pid, gunicorn.pid))",
        "os.kill(nginx_pid, signal.SIGQUIT)",
    ):
        assert text in serve, text
    conf = (PROGRAM / "nginx.conf").read_text()
    for text in (
        "daemon off;",
        "pid /tmp/nginx.pid;",
        "error_log /var/log/nginx/error.log;",
        "include /etc/nginx/mime.types;",
        "access_log /var/log/nginx/access.log combined;",
        "server unix:/tmp/gunicorn.sock;",
        "listen 8080 deferred;",
        "location ~ ^/(ping|invocations)",
    ):
        assert text in conf, text
    assert "import predictor as myapp" in (PROGRAM / "wsgi.py").read_text()


# --- container: image --------------------------------------------------------------------------


def test_dockerfile_copies_the_program_and_installs_pinned_packages_with_pip():
    dockerfile = (CONTAINER / "Dockerfile").read_text()
    for line in (
        "COPY program /opt/program",
        "WORKDIR /opt/program",
        'ENV PATH="/opt/program:${PATH}"',
        "ln -sf /dev/stdout /var/log/nginx/access.log",
        "ln -sf /dev/stderr /var/log/nginx/error.log",
    ):
        assert line in dockerfile, line
    assert re.search(r"RUN apt-get .*apt-get install .*\bnginx\b", dockerfile.replace("\\\n", " "))
    assert pip_installs(dockerfile) == DOCKERFILE_PINS
    assert not list(CONTAINER.rglob("requirements*.txt")), "the packages are in the Dockerfile only"


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


# --- README ------------------------------------------------------------------------------------


def test_readme_documents_sources_paths_arguments_metrics_and_hyperparameters():
    readme = (FIXTURES / "README.md").read_text()
    for definition in METRIC_DEFINITIONS:
        assert f'"Regex": "{json.dumps(definition["Regex"])[1:-1]}"' in readme, definition
    for text in (
        "scikit_bring_your_own",
        "aws-glue-libs",
        "awsglue/utils.py",
        "your-algorithms-batch-code",
        "/opt/ml/input/config/hyperparameters.json",
        "/tmp/gunicorn.sock",
        "/tmp/nginx.pid",
        "/var/log/nginx",
        "/opt/program",
        "/etc/nginx/mime.types",
        "--SCHEMA_URI",
        "train/schema.json",
        "score/score.csv",
    ):
        assert text in readme, text
    for name in {*HYPERPARAMETERS} - {"_tuning_objective_metric"} | {"class_weight"}:
        assert f"`{name}`" in readme, name
    for name in {n for call in resolved_option_names(PREPARE) for n in call}:
        assert f"`--{name}`" in readme, name


def pd_read(body: bytes):
    import pandas as pd

    return pd.read_csv(io.BytesIO(body), index_col=0)
