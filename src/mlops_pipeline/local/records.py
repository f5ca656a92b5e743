"""Job records of the local services, one JSON file each under ``<workspace>/services/``.

They hold the AWS Describe* shapes, so describe calls, name clashes (``ResourceInUse``) and the
``local`` commands read the same facts, and they outlive the process.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

from mlops_pipeline.aws_errors import AwsError
from mlops_pipeline.local.stores import write_atomic


@dataclass
class Records:
    root: Path
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def of_workspace(cls, root: Path) -> "Records":
        """The records of the workspace at ``root`` (the services, the ``local`` commands and recovery share them)."""
        return cls(root / "services")

    def _path(self, kind: str, name: str) -> Path:
        return self.root / kind / f"{name}.json"

    def create(self, kind: str, name: str, record: dict, code: str) -> None:
        """Claim a name; the API error ``code`` (e.g. ``ResourceInUse``) if it is taken, as AWS answers."""
        with self._lock:
            path = self._path(kind, name)
            if path.exists():
                raise AwsError(code, f"{kind[:-1] if kind.endswith('s') else kind} {name} already exists")
            write_atomic(path, json.dumps(record, indent=2, default=str).encode())

    def put(self, kind: str, name: str, record: dict) -> None:
        with self._lock:
            write_atomic(self._path(kind, name), json.dumps(record, indent=2, default=str).encode())

    def get(self, kind: str, name: str) -> dict | None:
        path = self._path(kind, name)
        return json.loads(path.read_text()) if path.exists() else None

    def names(self, kind: str) -> list[str]:
        folder = self.root / kind
        return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []
