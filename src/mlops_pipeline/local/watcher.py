"""The local landing trigger: new files in the feature store become S3 ``ObjectCreated`` events that
the landing handler (the same code as the Lambda) turns into executions.

What was already passed on is remembered in the workspace, so a restarted watcher does not start
the same file twice (the in-process Step Functions service forgets executions between processes).
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import quote_plus

from mlops_pipeline.handlers.s3_landing import Settings, handle_event
from mlops_pipeline.local.stores import Workspace, etag_of, exclusively, version_of, write_atomic


def object_created_event(bucket: str, key: str, path: Path, region: str = "us-east-1") -> dict:
    """The record S3 sends for a single-part PUT; the key URL-encoded as S3 encodes it.

    The stores are versioned (as Terraform creates them), so landing a file again is a new version
    and a new execution, while the watcher never passes on the same version twice.
    """
    stat = path.stat()
    when = datetime.datetime.fromtimestamp(stat.st_mtime_ns // 1_000_000 / 1000, datetime.timezone.utc)
    event_time = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"  # as S3 writes it
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventName": "ObjectCreated:Put",
                "eventTime": event_time,
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {
                        "key": quote_plus(key, safe="/"),
                        "size": stat.st_size,
                        "eTag": etag_of(path).strip('"'),
                        "versionId": version_of(path),
                        "sequencer": f"{stat.st_mtime_ns:016X}",
                    },
                },
            }
        ]
    }


@dataclass
class FeatureStoreWatcher:
    """Sessions sharing a workspace share what was passed on: each reads and writes it holding its lock."""

    workspace: Workspace
    bucket: str
    settings: Settings
    sfn: object
    session: str = ""  # the session passing objects on: a key it passed on is its own while it lives

    @property
    def _state_path(self) -> Path:
        return self.workspace.root / "watcher" / f"{self.bucket}.json"

    def _passing_on(self):
        """What was passed on, held by one watcher at a time across the workspace's sessions and commands."""
        return exclusively(self._state_path.with_name(f".{self._state_path.name}.lock"))

    def _seen(self) -> dict[str, dict]:
        """key -> {"stamp": size:mtime of the version passed on, "execution": what it started, if anything,
        "session": the session that passed it on}."""
        seen = json.loads(self._state_path.read_text()) if self._state_path.exists() else {}
        return {key: value if isinstance(value, dict) else {"stamp": value} for key, value in seen.items()}

    def poll(self) -> list[dict]:
        """Pass every new or changed object to the handler once, oldest first (the order S3 would notify in); the
        handler's outcome per object."""
        with self._passing_on():
            return self._pass_on(None)

    def put_and_pass_on(self, put: Callable[[], str]) -> tuple[str, dict | None]:
        """Put one object (``put`` writes it and returns its key) and pass it on, holding what was passed on
        throughout: a watcher of another session (``local up`` in the same workspace) cannot pass it on first.
        Its key, and the handler's outcome (None: that version was passed on already)."""
        with self._passing_on():
            key = put()
            return key, next(iter(self._pass_on({key})), None)

    def _pass_on(self, keys: set[str] | None) -> list[dict]:
        """The outcome of each object passed on (of ``keys``, when given); the caller holds ``_passing_on``."""
        seen = self._seen()
        outcomes = []
        landed = sorted(self.workspace.objects(self.bucket), key=lambda item: item[1].stat().st_mtime_ns)
        for key, path in landed:
            stamp = f"{path.stat().st_size}:{path.stat().st_mtime_ns}"
            if seen.get(key, {}).get("stamp") == stamp or (keys is not None and key not in keys):
                continue
            summary = handle_event(object_created_event(self.bucket, key, path), self.sfn, self.settings)
            outcomes.append({"key": key, **{action: items for action, items in summary.items() if items}})
            started = (summary.get("started") or [None])[0]
            seen[key] = {"stamp": stamp, "execution": started, "session": self.session}
            write_atomic(self._state_path, json.dumps(seen, indent=2).encode())
        return outcomes

    def forget_unrecorded(self, recorded: Callable[[str], bool], alive: Callable[[str], bool]) -> list[str]:
        """Pass a file on again when the execution it started left no record and the session that started it
        is gone (it died before writing one; a live one writes it as it goes on): the keys forgotten."""
        with self._passing_on():
            seen = self._seen()
            lost = [
                key
                for key, value in seen.items()
                if value.get("execution") and not recorded(value["execution"]) and not alive(value.get("session", ""))
            ]
            for key in lost:
                del seen[key]
            if lost:
                write_atomic(self._state_path, json.dumps(seen, indent=2).encode())
        return lost
