"""Containers as SageMaker presents them: the image's declarations, its own Python environment, and
each job's own view (``/opt/ml``, ``/opt/program``, a private ``/tmp`` and network) without Docker."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import AWS_STYLE, IMAGE, call, namespaces_or_skip, project_containers, run_train
from mlops_pipeline.errors import PipelineError
from mlops_pipeline.local.containers import free_port
from mlops_pipeline.local.containers.environments import EnvironmentCache
from mlops_pipeline.local.containers.image import ContainerImage

AWS_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/container:1"


def needs_namespaces():
    """Isolated views need bubblewrap, and the AWS-style container nginx; CI installs both, so there a missing one
    is a failure, not a skip."""
    namespaces_or_skip()
    if shutil.which("nginx") is None:
        if os.environ.get("MLOPS_REQUIRE_ISOLATION"):
            pytest.fail("MLOPS_REQUIRE_ISOLATION is set but nginx (the AWS-style container's front) is missing")
        pytest.skip("nginx is not installed (the AWS-style container's serve runs nginx from the host)")


def test_free_port_is_bindable():
    import socket

    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_a_server_that_cannot_load_its_model_is_a_clear_error(tmp_path):
    (tmp_path / "opt_ml" / "model").mkdir(parents=True)
    with pytest.raises(PipelineError, match=r"the inference server exited with status \d+; see .*serve.log"):
        project_containers().start_server(IMAGE, tmp_path / "opt_ml", tmp_path / "serve.log", ready_timeout=60)
    assert "xgboost-model.json" in (tmp_path / "serve.log").read_text()


# -- what an image declares ------------------------------------------------------------------------------


def write_image(folder: Path, dockerfile: str, files: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Dockerfile").write_text(textwrap.dedent(dockerfile))
    for name, text in (files or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def test_the_aws_style_dockerfile_is_read_as_docker_would_build_it():
    image = ContainerImage.load(AWS_STYLE / "container")
    assert image.copies == ((AWS_STYLE / "container" / "program", "/opt/program"),)
    assert image.workdir == "/opt/program" and image.env["PATH"].startswith("/opt/program:/usr/local/sbin")
    assert image.env["PYTHONUNBUFFERED"] == "TRUE" and image.command("train") == ["train"]
    assert "tabulate==0.10.0" in image.requirements and image.system_packages == ("nginx", "ca-certificates")
    assert image.resolve("serve") == ("/opt/program/serve", AWS_STYLE / "container" / "program" / "serve")


def test_entrypoint_requirements_file_env_forms_and_local_override(tmp_path):
    folder = write_image(
        tmp_path / "img",
        """\
        FROM python:3.6
        COPY reqs/base.txt /build/requirements.txt
        RUN pip3 install --no-cache-dir -r /build/requirements.txt -i https://example.invalid/simple && echo done
        ENV MODE prod
        ENV A=1 B="two words" C=${MODE}-${A}x
        COPY src/ /app/
        WORKDIR /app
        ENTRYPOINT ["python3.6", "/app/entry.py"]
        CMD ["ignored"]
        """,
        {"reqs/base.txt": "tabulate==0.10.0  # pretty tables\n\n", "src/entry.py": "print('hi')\n"},
    )
    image = ContainerImage.load(folder)
    assert image.requirements == ("tabulate==0.10.0",) and image.requirements_source.endswith("Dockerfile")
    assert (
        image.env["MODE"] == "prod" and image.env["B"] == "two words" and image.env["C"] == "prod-x"
    )  # same-line values are not seen yet, as in Docker
    assert image.command("train") == ["python3.6", "/app/entry.py", "train"]
    assert image.host_path("/app/entry.py") == folder / "src" / "entry.py"
    (folder / "requirements.local.txt").write_text("tabulate==0.9.0\n")
    overridden = ContainerImage.load(folder)
    assert overridden.requirements == ("tabulate==0.9.0",) and overridden.requirements_source.endswith(".local.txt")


@pytest.mark.parametrize(
    "dockerfile, message",
    [
        ("FROM x\nCOPY missing /opt/program\n", "COPY missing: no such file"),
        ("FROM x\nRUN pip install -r /tmp/nowhere.txt\n", "pip install -r /tmp/nowhere.txt: the file is not copied"),
    ],
)
def test_a_dockerfile_the_runtime_cannot_follow_is_named(tmp_path, dockerfile, message):
    with pytest.raises(PipelineError, match=message):
        ContainerImage.load(write_image(tmp_path / "img", dockerfile))


def test_an_unknown_image_names_the_containers_there(tmp_path):
    with pytest.raises(PipelineError, match=r"no local container .*/lightgbm \(containers in .*: byo-xgboost\)"):
        project_containers().prepare("123.dkr.ecr.us-east-1.amazonaws.com/lightgbm:2")


# -- the image's own Python environment -------------------------------------------------------------------


def test_an_environment_installs_what_only_the_image_declares_and_is_reused(tmp_path):
    pytest.importorskip("pandas")
    with pytest.raises(ImportError):
        __import__("tabulate")  # the project itself does not have it
    cache = EnvironmentCache(tmp_path / "cache")
    image = ContainerImage.load(AWS_STYLE / "container")
    progress: list[str] = []
    environment = cache.prepare(image, progress.append)
    assert any("tabulate" in line for line in progress)
    result = os.popen(f"{environment.python} -c 'import tabulate, pandas; print(tabulate.__version__)'").read()
    assert result.strip() == "0.10.0"
    assert (environment.bin / "gunicorn").read_text().startswith(f"#!{environment.python}\n")
    again: list[str] = []
    assert cache.prepare(image, again.append) == environment and again == []  # cached by its declarations


def test_a_build_another_process_is_making_is_waited_for_with_a_line_saying_so(tmp_path):
    cache = EnvironmentCache(tmp_path / "cache")
    image = ContainerImage.load(write_image(tmp_path / "plain", "FROM python:3.11-slim\n"))
    lock = cache.root / f"{cache.key(image)}.lock"
    lock.parent.mkdir(parents=True)
    progress: list[str] = []
    with open(lock, "a") as held:  # another open file description: this process's own prepare must wait for it
        fcntl.flock(held, fcntl.LOCK_EX)
        waiter = threading.Thread(target=cache.prepare, args=(image, progress.append))
        waiter.start()
        deadline = time.monotonic() + 10
        while not progress and time.monotonic() < deadline:
            time.sleep(0.01)
        assert progress == [f"another process is building the Python environment of {image.name}; waiting for it"]
        assert waiter.is_alive()
    waiter.join(60)
    assert not waiter.is_alive() and progress[1:] == [f"creating the Python environment of {image.name}"]


def test_a_pin_that_cannot_install_here_is_one_line_naming_it_the_file_and_the_override(tmp_path):
    folder = write_image(tmp_path / "old", "FROM ubuntu:18.04\nRUN pip install numpy==1.16.2\n")
    with pytest.raises(PipelineError) as refused:
        EnvironmentCache(tmp_path / "cache").prepare(ContainerImage.load(folder))
    message = str(refused.value)
    assert "\n" not in message and "numpy==1.16.2 cannot be installed on Python 3." in message
    assert f"{folder / 'Dockerfile'}:" in message and f"{folder / 'requirements.local.txt'}" in message
    assert not any((tmp_path / "cache" / "envs").glob("*/bin"))  # a failed build leaves no environment behind


# -- each job's own view ----------------------------------------------------------------------------------


def churn_channel(folder: Path, rows: int, seed: int, flip: bool = False) -> Path:
    """A headered channel with the id first and a Yes/No-derived 0/1 label, as the AWS-style Glue script writes."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{seed}-{i}" for i in range(rows)],
            "tenure": rng.normal(size=rows),
            "spend": rng.normal(size=rows),
        }
    )
    signal = frame.tenure if not flip else -frame.tenure
    frame["Churned"] = (signal + rng.normal(scale=0.3, size=rows) > 0).astype(int)
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "part.csv", index=False)
    return folder


def aws_containers():
    return project_containers(AWS_STYLE.parent / "aws_style_containers")


@pytest.fixture(scope="module")
def aws_folder(tmp_path_factory):
    """The AWS-style container, unchanged, under the repository name the image URI uses."""
    root = tmp_path_factory.mktemp("containers")
    shutil.copytree(AWS_STYLE / "container", root / "container")
    return root


def train_aws_style(aws_folder, root: Path, flip: bool = False):
    channel = churn_channel(root.parent / f"{root.name}-data", 200, 7, flip)
    containers = project_containers(aws_folder)
    return run_train(root, {"label": "Churned"}, image=AWS_IMAGE, containers=containers, train=channel)


def test_an_aws_style_trainer_finds_opt_ml_and_program_where_sagemaker_puts_them(aws_folder, tmp_path):
    needs_namespaces()
    result = train_aws_style(aws_folder, tmp_path / "opt_ml")
    assert result.returncode == 0, result.stdout
    assert "train:auc=" in result.stdout and "metric" in result.stdout  # tabulate's table: its own package
    assert {p.name for p in (tmp_path / "opt_ml" / "model").iterdir()} == {"model.joblib", "features.json"}
    assert not Path("/opt/ml").exists()  # the host was never touched


def test_an_aws_style_trainer_that_fails_writes_its_reason_where_sagemaker_reads_it(aws_folder, tmp_path):
    needs_namespaces()
    channel = churn_channel(tmp_path / "data", 50, 1)
    result = run_train(
        tmp_path / "opt_ml",
        {"label": "NoSuchColumn"},
        image=AWS_IMAGE,
        containers=project_containers(aws_folder),
        train=channel,
    )
    assert result.returncode == 255
    assert "label column 'NoSuchColumn' is not in the data" in (tmp_path / "opt_ml" / "output" / "failure").read_text()


def test_two_aws_style_servers_at_once_each_answer_with_their_own_model(aws_folder, tmp_path):
    needs_namespaces()
    for name, flip in (("a", False), ("b", True)):
        assert train_aws_style(aws_folder, tmp_path / name / "opt_ml", flip).returncode == 0
    containers = project_containers(aws_folder)
    body = b"customer_id,tenure,spend\nX1,2.5,0\n"
    answers: dict[str, str] = {}

    def serve(name: str) -> None:
        with containers.start_server(AWS_IMAGE, tmp_path / name / "opt_ml", tmp_path / name / "serve.log") as server:
            answers[name] = call(server.endpoint, "POST", "/invocations", body, {"Content-Type": "text/csv"}).text
            answers[f"{name}-tmp"] = sorted(os.listdir(server.bridge))  # the runtime's side of the bridge
            barrier.wait(timeout=120)  # both servers are up at the same time

    barrier = threading.Barrier(2)
    threads = [threading.Thread(target=serve, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    probability = {name: float(answers[name].splitlines()[1].split(",")[1]) for name in ("a", "b")}
    assert answers["a"].splitlines()[0] == "customer_id,probability,label"
    assert probability["a"] > 0.8 and probability["b"] < 0.2  # model a learnt tenure -> churn, model b the reverse
    assert not Path("/tmp/gunicorn.sock").exists() and not Path("/tmp/nginx.pid").exists()  # each /tmp is private


def test_a_program_sees_its_own_tmp_only(tmp_path):
    needs_namespaces()
    Path("/tmp/host-secret-for-test").write_text("x")
    folder = write_image(
        tmp_path / "containers" / "peek",
        """\
        FROM python:3.11
        COPY program /opt/program
        ENV PATH="/opt/program:${PATH}"
        """,
        {
            "program/train": "#!/usr/bin/env python3.6\nimport os\nopen('/opt/ml/model/seen', 'w').write("
            "repr(sorted(os.listdir('/tmp'))) + os.getcwd())\nopen('/tmp/mine', 'w')\n",
            "program/serve": "#!/bin/sh\nexit 1\n",
        },
    )
    os.chmod(folder / "program" / "train", 0o755)
    try:
        result = run_train(tmp_path / "opt_ml", {}, image="x/peek:1", containers=project_containers(folder.parent))
    finally:
        os.unlink("/tmp/host-secret-for-test")
    assert result.returncode == 0, result.stdout  # a python3.6 shebang runs with the environment's Python
    listing, _, cwd = (tmp_path / "opt_ml" / "model" / "seen").read_text().rpartition("]")
    assert "host-secret-for-test" not in listing and cwd == "/"  # the host's /tmp is not the job's
    assert not Path("/tmp/mine").exists()  # and what the job writes in its /tmp stays there


def test_a_job_with_network_isolation_cannot_reach_the_host(tmp_path):
    """EnableNetworkIsolation: SageMaker gives the container no network; here a listener on the host is
    reachable without it and unreachable with it."""
    needs_namespaces()
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    folder = write_image(
        tmp_path / "containers" / "caller",
        """\
        FROM python:3.11
        COPY program /opt/program
        ENV PATH="/opt/program:${PATH}"
        """,
        {
            "program/train": "#!/usr/bin/env python3\nimport socket\ntry:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=5).close()\n    seen = 'reached'\n"
            "except OSError:\n    seen = 'blocked'\nopen('/opt/ml/model/seen', 'w').write(seen)\n",
            "program/serve": "#!/bin/sh\nexit 1\n",
        },
    )
    os.chmod(folder / "program" / "train", 0o755)
    seen = {}
    try:
        for isolated in (False, True):
            root = tmp_path / f"opt_ml-{isolated}"
            request = {"EnableNetworkIsolation": isolated}
            result = run_train(
                root, {}, image="x/caller:1", containers=project_containers(folder.parent), request=request
            )
            assert result.returncode == 0, result.stdout
            seen[isolated] = (root / "model" / "seen").read_text()
    finally:
        listener.close()
    assert seen == {False: "reached", True: "blocked"}


#: A ``train`` written for AWS (hard-coded ``/opt/ml``) that reports what its view shows it.
PEEK_TRAIN = """#!/usr/bin/env python3
import json, os, sys
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
seen = {
    "mine": open("/opt/ml/mine").read(),
    "opt_ml": sorted(os.listdir("/opt/ml")),
    "other_jobs": os.path.exists("/run/mlops/jobs/a") or os.path.exists("/run/mlops/jobs/b"),
    "server_socket": os.path.exists("/run/mlops/fork-server/zygote.sock"),
    "capabilities": status["CapEff"].strip(),
    "parent": open(f"/proc/{os.getppid()}/cmdline").read().replace(chr(0), " "),
    "cwd": os.getcwd(),
    "marked": "MLOPS_SESSION=session-test-view" in open("/proc/self/environ").read(),
    "tmp": sorted(os.listdir("/tmp")) + sorted(os.listdir("/var/tmp")) + sorted(os.listdir(os.path.expanduser("~"))),
    "environment": os.path.isfile(os.path.join(sys.prefix, "pyvenv.cfg")),
    "late_import": bool(__import__("fractions").Fraction(1, 3)),  # from the standard library, after the fork
}
for folder in ("/tmp", "/var/tmp", os.path.expanduser("~")):
    open(os.path.join(folder, "left-by-" + seen["mine"]), "w").write("x")
json.dump(seen, open("/opt/ml/model/seen.json", "w"))
"""


def test_jobs_forked_warm_in_a_view_each_see_their_own_opt_ml_and_nothing_of_the_others(tmp_path, monkeypatch):
    """With namespaces a warm job is forked in its fork server's view, which shows every job's folder: the child
    makes its own folder its /opt/ml, gets a /tmp, /var/tmp and home of its own, hides the rest and the server's
    socket, and keeps no capability."""
    namespaces_or_skip()
    monkeypatch.setenv("MLOPS_SESSION", "session-test-view")  # recovery finds a job by its environment's mark
    monkeypatch.setenv("MLOPS_CACHE", str(tmp_path / "cache"))  # the environment under /tmp: kept in the job's /tmp
    folder = write_image(
        tmp_path / "containers" / "peek",
        """\
        FROM python:3.11
        COPY program /opt/program
        ENV PATH="/opt/program:${PATH}"
        """,
        {"program/train": PEEK_TRAIN, "program/serve": "#!/bin/sh\nexit 1\n"},
    )
    os.chmod(folder / "program" / "train", 0o755)
    containers = project_containers(folder.parent)
    containers.jobs = tmp_path / "jobs"
    seen = {}
    try:
        for name in ("a", "b"):
            root = containers.jobs / name / "opt_ml"
            root.mkdir(parents=True)
            (root / "mine").write_text(name)
            result = run_train(root, {}, image="x/peek:1", containers=containers)
            assert result.returncode == 0, result.stdout
            seen[name] = json.loads((root / "model" / "seen.json").read_text())
    finally:
        containers.close()
    assert (seen["a"]["mine"], seen["b"]["mine"]) == ("a", "b")
    assert seen["b"]["opt_ml"] == ["input", "mine", "model", "output"]
    assert "zygote.py" in seen["a"]["parent"] and seen["a"]["parent"] == seen["b"]["parent"]  # one server
    assert not seen["b"]["other_jobs"] and not seen["b"]["server_socket"]
    assert seen["b"]["capabilities"] == "0000000000000000" and seen["b"]["cwd"] == "/"
    assert seen["a"]["marked"] and seen["b"]["marked"]
    assert not [name for name in seen["b"]["tmp"] if name.startswith("left-by-")]  # job a's /tmp, /var/tmp, home
    assert seen["b"]["environment"] and seen["b"]["late_import"]
