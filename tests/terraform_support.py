"""Terraform for the tests: the binary, the provider on disk, and throwaway copies of infra/terraform.

These machines cannot download providers, so ``terraform init`` runs offline from a provider
mirror on disk (``-plugin-dir``), found the way a user would find it:

1. ``TF_PLUGIN_DIR``: the folder holding ``registry.terraform.io/`` (what ``-plugin-dir`` takes);
2. Terraform's own local mirror folders (``~/.terraform.d/plugins``, ``~/.local/share/terraform/plugins``,
   ``/usr/local/share/terraform/plugins``, ``/usr/share/terraform/plugins``);
3. the parent of the first ``registry.terraform.io`` folder within five levels of ``/`` (one ``find``
   on the root file system, well under a second), outside any ``.terraform/`` working folder.

A candidate counts only if it holds ``hashicorp/aws`` for this platform. Each run works in a
temporary copy of the module with its own ``TF_DATA_DIR``: nothing (``.terraform/``, the lock
file, state) is ever written into ``infra/terraform``.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO

TERRAFORM_MODULE = REPO / "infra" / "terraform"
MIRROR_ENV = "TF_PLUGIN_DIR"
_IMPLIED_MIRRORS = (
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
)


def terraform_binary() -> str | None:
    return shutil.which("terraform")


@functools.lru_cache(maxsize=1)
def terraform_platform() -> str:
    """``linux_amd64`` and the like, as ``terraform version -json`` reports it."""
    result = subprocess.run(
        [terraform_binary(), "version", "-json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=terraform_env(),
        check=True,
    )
    return json.loads(result.stdout)["platform"]


def _holds_aws_provider(plugin_dir: Path) -> bool:
    versions = plugin_dir / "registry.terraform.io" / "hashicorp" / "aws"
    return (
        any((version / terraform_platform()).is_dir() for version in versions.glob("*")) if versions.is_dir() else False
    )


def _found_on_disk() -> list[Path]:
    try:
        result = subprocess.run(
            [
                "find",
                "/",
                "-xdev",
                "-maxdepth",
                "5",
                "-type",
                "d",
                "-name",
                "registry.terraform.io",
                "-not",
                "-path",
                "*/.terraform/*",
                "-not",
                "-path",
                "/proc/*",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [Path(line).parent for line in sorted(result.stdout.splitlines())]


@functools.lru_cache(maxsize=1)
def provider_mirror() -> Path | None:
    """The ``-plugin-dir`` that holds hashicorp/aws for this platform, or None."""
    if terraform_binary() is None:
        return None
    if os.environ.get(MIRROR_ENV):
        candidates = [Path(os.environ[MIRROR_ENV]).expanduser()]  # the user said where: look nowhere else
    else:
        candidates = [Path(p).expanduser() for p in _IMPLIED_MIRRORS]
        candidates += _found_on_disk()
    return next((c.resolve() for c in candidates if _holds_aws_provider(c)), None)


def require_terraform_and_mirror() -> Path:
    """The mirror, or skip the test saying what is missing (in CI: fail, so nothing is silently skipped)."""
    if terraform_binary() is None:
        reason = "terraform is not on PATH (README: Python 3.11, make, git and Terraform)"
    elif provider_mirror() is None:
        where = os.environ.get(MIRROR_ENV) or "TF_PLUGIN_DIR, Terraform's local mirror folders or the root file system"
        reason = (
            f"no hashicorp/aws provider for {terraform_platform()} on disk (looked in {where}); this machine "
            f"cannot download it: set {MIRROR_ENV} to the folder holding registry.terraform.io/"
        )
    else:
        return provider_mirror()
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the Terraform checks: {reason}")
    pytest.skip(reason)


def terraform_env(**extra: str) -> dict[str, str]:
    """The caller's environment, without Terraform's update check and prompts."""
    env = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"}
    env.update(extra)
    return env


def module_copy(destination: Path) -> Path:
    """A copy of infra/terraform's ``*.tf`` files (nothing else) in ``destination``."""
    destination.mkdir(parents=True, exist_ok=True)
    for path in sorted(TERRAFORM_MODULE.glob("*.tf")):
        shutil.copy2(path, destination / path.name)
    return destination


def run_terraform(
    workdir: Path,
    *args: str,
    env: dict[str, str],
    timeout: float = 600,
    ok_codes: tuple[int, ...] = (0,),
    request_log: Path | None = None,
) -> subprocess.CompletedProcess:
    """``terraform -chdir=WORKDIR ARGS`` with its own data dir; fails the test with Terraform's own words.
    With ``request_log``, the provider logs every API request there, and a failure also shows the requests
    its SDK sent again and every answer to them."""
    env = {**env, "TF_DATA_DIR": str(workdir / ".terraform")}
    if request_log is not None:
        env |= {"TF_LOG_PROVIDER": "DEBUG", "TF_LOG_PATH": str(request_log)}
    command = [terraform_binary(), f"-chdir={workdir}", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if result.returncode not in ok_codes:
        output = f"{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
        resent = resent_requests(request_log) if request_log is not None and request_log.exists() else ""
        pytest.fail(f"`terraform {' '.join(args)}` exited {result.returncode}:\n{output}{resent}")
    return result


_RECORD = re.compile(r"^(?=\d{4}-\d\d-\d\dT)", re.MULTILINE)  # each provider log record starts with its time
_FIELD = {name: re.compile(rf"{re.escape(name)}=(\w+)") for name in ("rpc.method", "attempt", "http.status_code")}


def resent_requests(log: Path, limit: int = 60) -> str:
    """Each API operation the provider's AWS SDK sent more than once (its ``attempt=N`` header), with every
    request and answer of that operation: an answer that came after the client had given up shows here."""
    exchanges = []  # (time, "sent" or "answered", fields)
    for record in _RECORD.split(log.read_text(errors="replace")):
        kind = "sent" if "HTTP Request Sent" in record else "answered" if "HTTP Response Received" in record else None
        if kind:
            fields = {name: found.group(1) for name, pattern in _FIELD.items() if (found := pattern.search(record))}
            exchanges.append((record[:24], kind, fields))
    resent = {f.get("rpc.method") for _, kind, f in exchanges if kind == "sent" and f.get("attempt", "1") != "1"}
    shown = [
        f"  {when} {fields.get('rpc.method')} {kind} "
        + (f"attempt {fields.get('attempt', '?')}" if kind == "sent" else fields.get("http.status_code", "?"))
        for when, kind, fields in exchanges
        if fields.get("rpc.method") in resent
    ]
    if not shown:
        return "\nThe provider sent no request twice."
    return "\nRequests the provider sent more than once:\n" + "\n".join(shown[-limit:])


def init_offline(workdir: Path, mirror: Path, env: dict[str, str]) -> None:
    run_terraform(workdir, "init", "-backend=false", f"-plugin-dir={mirror}", "-input=false", "-no-color", env=env)
