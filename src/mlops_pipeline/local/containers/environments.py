"""Each container's own Python environment, built once from what its folder declares and cached.

An environment is a virtual environment of this interpreter whose own site-packages hold the image's
``pip install`` requirements; the project's installed packages are visible after them, so a pin the
project already satisfies costs nothing, while a package only the image installs (or another version
of one) is installed into the environment. Console scripts of those packages (``gunicorn``) are
re-pointed at the environment's interpreter. Environments live in the cache folder
(``$MLOPS_CACHE``, else ``$XDG_CACHE_HOME/mlops-pipeline``, else ``~/.cache/mlops-pipeline``), keyed by
the hash of the requirements, the interpreter and the project environment; a build is locked, so
parallel jobs of one image wait for one build. Only wheels are installed (``--only-binary :all:``):
a pin without a wheel for this Python fails at once instead of compiling for minutes.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from mlops_pipeline.errors import PipelineError
from mlops_pipeline.local.containers.image import LOCAL_REQUIREMENTS, ContainerImage
from mlops_pipeline.local.stores import exclusively

CACHE_ENV = "MLOPS_CACHE"
FORMAT = "1"  # bump when the layout of an environment changes
READY = ".ready"
OVERLAY = "_mlops_project_packages.pth"


def cache_root() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mlops-pipeline"


@dataclass(frozen=True)
class PythonEnvironment:
    root: Path

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"

    def mounts(self) -> list[Path]:
        """Folders a sandbox must show (read-only) for this interpreter and its packages to work."""
        return [self.root, Path(sys.base_prefix), *_project_site_packages()]


class EnvironmentCache:
    """Builds and finds container environments under one cache folder."""

    def __init__(self, root: Path | None = None):
        self.root = (root or cache_root()) / "envs"

    def key(self, image: ContainerImage) -> str:
        facts = [FORMAT, sys.version, sys.executable, *map(str, _project_site_packages()), image.digest_source()]
        return hashlib.sha256("\n".join(facts).encode()).hexdigest()[:20]

    def prepare(self, image: ContainerImage, progress: Callable[[str], None] = lambda line: None) -> PythonEnvironment:
        """The image's environment, built now if it is not in the cache yet."""
        environment = PythonEnvironment(self.root / self.key(image))
        if (environment.root / READY).exists():
            return environment
        building_elsewhere = f"another process is building the Python environment of {image.name}; waiting for it"
        with exclusively(self.root / f"{environment.root.name}.lock", waiting=lambda: progress(building_elsewhere)):
            if not (environment.root / READY).exists():
                self._build(image, environment, progress)
        return environment

    def _build(self, image: ContainerImage, environment: PythonEnvironment, progress: Callable[[str], None]) -> None:
        shutil.rmtree(environment.root, ignore_errors=True)  # a build that died half-way
        try:
            progress(f"creating the Python environment of {image.name}")
            subprocess.run(
                [sys.executable, "-m", "venv", "--without-pip", str(environment.root)], check=True, capture_output=True
            )
            site = _site_packages(environment)
            (site / OVERLAY).write_text("".join(f"{path}\n" for path in _project_site_packages()))
            if image.requirements:
                _install(image, environment, progress)
            _shim_console_scripts(environment)
            (environment.root / READY).write_text(image.digest_source())
        except BaseException:
            shutil.rmtree(environment.root, ignore_errors=True)
            raise


def _install(image: ContainerImage, environment: PythonEnvironment, progress: Callable[[str], None]) -> None:
    requirements = environment.root / "requirements.txt"
    requirements.write_text("".join(f"{line}\n" for line in image.requirements))
    log_path = environment.root.with_suffix(".log")
    command = [
        sys.executable,
        "-m",
        "pip",
        "--python",
        str(environment.python),
        "install",
        "--no-input",
        "--disable-pip-version-check",
        "--only-binary",
        ":all:",
        "--progress-bar",
        "off",
        "-r",
        str(requirements),
    ]
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in process.stdout:  # type: ignore[union-attr]
            log.write(line)
            if line.startswith(("Collecting", "Downloading", "Installing")):
                progress(f"{image.name}: {line.strip()}")
        code = process.wait()
    if code != 0:
        raise PipelineError(_pin_error(image, log_path.read_text(), log_path))


def _pin_error(image: ContainerImage, log: str, log_path: Path) -> str:
    """One line naming the pin that cannot install, the file that declares it and how to override it."""
    found = re.search(r"(?:satisfies the requirement|distribution found for) (\S+)", log)
    errors = [line.removeprefix("ERROR: ").strip() for line in log.splitlines() if line.startswith("ERROR:")]
    pin = found.group(1) if found else "a requirement"
    reason = errors[-1] if errors else "pip failed"
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    return (
        f"{image.requirements_source}: {pin} cannot be installed on Python {python} here ({reason}); "
        f"list pins that install here in {image.folder / LOCAL_REQUIREMENTS} (it replaces the image's "
        f"pins locally); pip's log: {log_path}"
    )


def _site_packages(environment: PythonEnvironment) -> Path:
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return environment.root / "lib" / version / "site-packages"


def _project_site_packages() -> list[Path]:
    paths = sysconfig.get_paths()
    return [Path(p) for p in dict.fromkeys((paths["purelib"], paths["platlib"]))]


def _shim_console_scripts(environment: PythonEnvironment) -> None:
    """Console scripts of the project's packages (``gunicorn``), run by the environment's interpreter."""
    project_bin = Path(sys.executable).parent
    shebang = f"#!{sys.executable}"
    for script in sorted(project_bin.iterdir()):
        target = environment.bin / script.name
        if target.exists() or not script.is_file() or script.name.startswith(("python", "pip", "activate")):
            continue
        try:
            text = script.read_text()
        except UnicodeDecodeError:
            continue
        if text.startswith(shebang + "\n"):
            target.write_text(f"#!{environment.python}\n{text[len(shebang) + 1 :]}")
            target.chmod(0o755)
