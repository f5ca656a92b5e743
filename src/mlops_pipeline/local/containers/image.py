"""What a container folder declares, read the way ``docker build`` and SageMaker would use it.

``containers/<name>/Dockerfile`` says where the programs live in the image (``COPY program /opt/program``),
the working directory, the environment (``ENV PATH="/opt/program:${PATH}"``), how the image is started
(``ENTRYPOINT``/``CMD``; SageMaker appends ``train`` or ``serve``), which Python packages it installs
(``pip install`` lines, ``-r`` files it copied in) and which system packages (``apt-get install``).
A folder without a Dockerfile is the plain layout ``program/train``, ``program/serve`` copied to
``/opt/program``, with ``requirements.txt`` beside it.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path

from mlops_pipeline.errors import PipelineError

#: Where SageMaker's examples put the programs; the plain layout uses it too.
PROGRAM_ROOT = "/opt/program"
#: Overrides the image's pip pins with ones that install here (named in the pin error).
LOCAL_REQUIREMENTS = "requirements.local.txt"
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_COMMAND_SEPARATORS = re.compile(r"&&|\|\||;")
_PIP_OPTIONS_WITH_VALUE = {
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "-c",
    "--constraint",
    "--trusted-host",
    "-t",
    "--target",
    "--prefix",
    "--root",
    "--platform",
}


@dataclass(frozen=True)
class ContainerImage:
    """A container folder as the image it builds."""

    folder: Path
    copies: tuple[tuple[Path, str], ...]  # (file or folder in the build context, path in the image)
    workdir: str
    env: dict[str, str] = field(default_factory=dict)
    entrypoint: tuple[str, ...] = ()
    requirements: tuple[str, ...] = ()  # pip requirement lines
    requirements_source: str = ""  # the file that declared them, for messages
    system_packages: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.folder.name

    @classmethod
    def load(cls, folder: Path) -> "ContainerImage":
        dockerfile = folder / "Dockerfile"
        if dockerfile.is_file():
            return _from_dockerfile(folder, dockerfile)
        program = folder / "program"
        if not program.is_dir():
            raise PipelineError(
                f"{folder}: no Dockerfile and no program/ folder; see README 'Bring your existing container'"
            )
        requirements = (
            _requirement_lines(folder / "requirements.txt") if (folder / "requirements.txt").is_file() else ()
        )
        image = cls(
            folder,
            ((program, PROGRAM_ROOT),),
            PROGRAM_ROOT,
            {"PATH": f"{PROGRAM_ROOT}:{BASE_PATH}"},
            requirements=requirements,
            requirements_source=str(folder / "requirements.txt"),
        )
        return image._with_local_requirements()

    def command(self, action: str) -> list[str]:
        """What ``docker run <image> <action>`` executes: the ENTRYPOINT with the action, else the action itself."""
        return [*self.entrypoint, action] if self.entrypoint else [action]

    def host_path(self, image_path: str) -> Path | None:
        """The build-context file behind a path in the image (the last COPY that covers it wins)."""
        for source, destination in reversed(self.copies):
            if image_path == destination:
                return source
            if image_path.startswith(destination.rstrip("/") + "/") and source.is_dir():
                return source / image_path[len(destination.rstrip("/")) + 1 :]
        return None

    def resolve(self, command: str) -> tuple[str, Path]:
        """(path in the image, file in the build context) of a command, searched on the image's PATH."""
        candidates = (
            [command]
            if "/" in command
            else [
                f"{directory.rstrip('/')}/{command}"
                for directory in self.env.get("PATH", BASE_PATH).split(":")
                if directory
            ]
        )
        for image_path in candidates:
            found = self.host_path(image_path)
            if found is not None and found.is_file():
                return image_path, found
        raise PipelineError(
            f"{self.folder}: `{command}` is not in the image (looked in {', '.join(candidates)}); "
            f"copy it there with COPY in the Dockerfile"
        )

    def missing_system_packages(self) -> list[str]:
        """Packages the image installs with apt that this machine lacks (the runtime uses the host's)."""
        return [package for package in self.system_packages if not _installed_on_host(package)]

    def digest_source(self) -> str:
        """What the image's Python environment is built from (its cache key)."""
        return json.dumps({"requirements": list(self.requirements)}, sort_keys=True)

    def _with_local_requirements(self) -> "ContainerImage":
        local = self.folder / LOCAL_REQUIREMENTS
        if not local.is_file():
            return self
        return replace(self, requirements=_requirement_lines(local), requirements_source=str(local))


def _from_dockerfile(folder: Path, dockerfile: Path) -> ContainerImage:
    from dockerfile_parse import DockerfileParser

    try:
        instructions = DockerfileParser(path=str(dockerfile)).structure
    except Exception as error:  # the parser's own errors are plain exceptions
        raise PipelineError(f"{dockerfile}: cannot be read as a Dockerfile ({error})") from None
    copies: list[tuple[Path, str]] = []
    env: dict[str, str] = {"PATH": BASE_PATH}
    workdir, entrypoint, cmd = "/", (), ()
    requirements: list[str] = []
    packages: list[str] = []
    for instruction in instructions:
        kind, value = instruction["instruction"], instruction["value"]
        if kind in ("COPY", "ADD"):
            copies.extend(_copies(folder, dockerfile, value, workdir))
        elif kind == "ENV":
            env.update(_env_pairs(value, env))
        elif kind == "WORKDIR":
            workdir = value if value.startswith("/") else f"{workdir.rstrip('/')}/{value}"
        elif kind == "ENTRYPOINT":
            entrypoint, cmd = _exec_form(value), ()
        elif kind == "CMD":
            cmd = _exec_form(value)
        elif kind == "RUN":
            for command in _COMMAND_SEPARATORS.split(value):
                requirements.extend(_pip_requirements(command, copies, dockerfile))
                packages.extend(_apt_packages(command))
    del cmd  # SageMaker replaces CMD with `train` or `serve`
    image = ContainerImage(
        folder,
        tuple(copies),
        workdir,
        env,
        tuple(entrypoint),
        tuple(requirements),
        str(dockerfile),
        tuple(dict.fromkeys(packages)),
    )
    return image._with_local_requirements()


def _copies(folder: Path, dockerfile: Path, value: str, workdir: str) -> list[tuple[Path, str]]:
    parts = _exec_form(value) if value.lstrip().startswith("[") else shlex.split(value)
    parts = [part for part in parts if not part.startswith("--")]  # --chown=..., --from=...
    if len(parts) < 2:
        raise PipelineError(f"{dockerfile}: COPY {value} names no source and destination")
    *sources, destination = parts
    if not destination.startswith("/"):
        destination = f"{workdir.rstrip('/')}/{destination}"
    copies = []
    for source in sources:
        path = folder / source
        if not path.exists():
            raise PipelineError(f"{dockerfile}: COPY {source}: no such file in {folder}")
        target = (
            f"{destination.rstrip('/')}/{path.name}" if destination.endswith("/") and path.is_file() else destination
        )
        copies.append((path, target))
    return copies


def _env_pairs(value: str, env: dict[str, str]) -> dict[str, str]:
    """``ENV A=1 B="x y"`` and the legacy ``ENV A 1``; ``$VAR``/``${VAR}`` expand against what is set so far."""
    tokens = shlex.split(value)
    if tokens and "=" not in tokens[0]:
        pairs = {tokens[0]: " ".join(tokens[1:])}
    else:
        pairs = dict(token.split("=", 1) for token in tokens if "=" in token)
    return {
        key: re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m.group(1) or m.group(2), ""), raw)
        for key, raw in pairs.items()
    }


def _exec_form(value: str) -> tuple[str, ...]:
    """``["a", "b"]`` (exec form) or ``a b`` (shell form, run by ``/bin/sh -c``)."""
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return ("/bin/sh", "-c", value)
    return tuple(str(part) for part in parsed) if isinstance(parsed, list) else ("/bin/sh", "-c", value)


def _pip_requirements(command: str, copies: list[tuple[Path, str]], dockerfile: Path) -> list[str]:
    """The requirements of one ``pip install ...`` (or ``python -m pip install ...``) command."""
    try:
        tokens = shlex.split(command)
    except ValueError:
        return []
    for start, token in enumerate(tokens):
        if Path(token).name.startswith("pip") and "install" in tokens[start:]:
            break
    else:
        return []
    arguments = tokens[tokens.index("install", start) + 1 :]
    requirements, skip = [], False
    for index, token in enumerate(arguments):
        if skip:
            skip = False
        elif token in ("-r", "--requirement"):
            requirements.extend(_copied_requirements(arguments[index + 1], copies, dockerfile))
            skip = True
        elif token.startswith("-"):
            skip = token in _PIP_OPTIONS_WITH_VALUE
        else:
            requirements.append(token)
    return requirements


def _copied_requirements(image_path: str, copies: list[tuple[Path, str]], dockerfile: Path) -> list[str]:
    for source, destination in reversed(copies):
        if destination == image_path or destination.rstrip("/") + "/" + Path(image_path).name == image_path:
            return list(_requirement_lines(source if source.is_file() else source / Path(image_path).name))
    raise PipelineError(f"{dockerfile}: pip install -r {image_path}: the file is not copied into the image by any COPY")


def _requirement_lines(path: Path) -> tuple[str, ...]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return tuple(line for line in lines if line)


def _apt_packages(command: str) -> list[str]:
    try:
        tokens = shlex.split(command)
    except ValueError:
        return []
    if not any(Path(token).name in ("apt-get", "apt") for token in tokens) or "install" not in tokens:
        return []
    return [token for token in tokens[tokens.index("install") + 1 :] if not token.startswith("-")]


def _installed_on_host(package: str) -> bool:
    if shutil.which(package):
        return True
    if shutil.which("dpkg-query") is None:
        return False
    result = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
    return result.returncode == 0 and "install ok installed" in result.stdout
