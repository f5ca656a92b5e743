"""A real S3 API on localhost for jobs that read and write S3 themselves (a Glue script using boto3).

moto's server (the same S3 implementation the local engine uses) listens on ``127.0.0.1``; a job reaches
it through ``AWS_ENDPOINT_URL_S3``. Before a job runs, the objects its arguments name are staged into it
from the workspace; afterwards every object the job created or changed is written back to the workspace,
so the stores on disk stay the one truth. Objects written into a read-only store (the feature store) are
never written back: landed files are never modified.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from mlops_pipeline.local.stores import Workspace, etag_of, parse_s3_uri, write_atomic_stream

#: Credentials the endpoint accepts; a job must never reach a real account with real ones.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}


class S3Endpoint:
    """Started on first use by a session; ``environment()`` is what a job needs to reach it."""

    def __init__(self, workspace: Workspace, buckets: list[str], read_only: set[str], region: str = "us-east-1"):
        self.workspace, self.buckets, self.read_only, self.region = workspace, buckets, read_only, region
        self._server = None
        self._client = None
        self._known: dict[tuple[str, str], str] = {}  # (bucket, key) -> ETag last seen on both sides
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self._server.get_host_and_port()  # type: ignore[union-attr]
        return f"http://{host}:{port}"

    def start(self) -> "S3Endpoint":
        with self._lock:
            if self._server is None:
                from moto.server import ThreadedMotoServer

                self._quiet = _Quiet(logging.getLogger("werkzeug"))  # one access-log line per request otherwise
                self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
                self._server.start()
                self._client = self._new_client()
                existing = {b["Name"] for b in self._client.list_buckets().get("Buckets", [])}
                for bucket in self.buckets:
                    if bucket not in existing:
                        self._client.create_bucket(Bucket=bucket)
        return self

    def _new_client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=CREDENTIALS["AWS_SESSION_TOKEN"],
        )

    def environment(self) -> dict[str, str]:
        return {
            **CREDENTIALS,
            "AWS_ENDPOINT_URL_S3": self.url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def stage(self, uris: list[str]) -> None:
        """Copy in the objects the URIs name: an object, or every object under a ``/``-terminated prefix."""
        for uri in uris:
            bucket, key = parse_s3_uri(uri)
            if bucket not in self.buckets:
                continue
            objects = self.workspace.objects(bucket, key) if key.endswith("/") or not key else [(key, None)]
            for object_key, path in objects:
                path = path or self.workspace.path(bucket, object_key)
                if path.is_file():
                    self._put(bucket, object_key, path)

    def _put(self, bucket: str, key: str, path: Path) -> None:
        etag = etag_of(path)
        if self._known.get((bucket, key)) == etag:
            return
        with open(path, "rb") as body:
            self._client.put_object(Bucket=bucket, Key=key, Body=body)  # type: ignore[union-attr]
        self._known[(bucket, key)] = etag

    def collect(self) -> list[str]:
        """Write every object created or changed in a writable store back to the workspace; their URIs."""
        written = []
        for bucket in self.buckets:
            if bucket in self.read_only:
                continue
            for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=bucket):  # type: ignore[union-attr]
                for item in page.get("Contents", []):
                    if self._known.get((bucket, item["Key"])) != item["ETag"]:
                        body = self._client.get_object(Bucket=bucket, Key=item["Key"])["Body"]  # type: ignore[union-attr]
                        write_atomic_stream(self.workspace.path(bucket, item["Key"]), body)
                        self._known[(bucket, item["Key"])] = item["ETag"]
                        written.append(f"s3://{bucket}/{item['Key']}")
        return written

    def stop(self) -> None:
        with self._lock:
            if self._server is not None:
                self._server.stop()
                self._server = None
                self._quiet.restore()


class _Quiet:
    """Silence a logger while the endpoint runs; give it back its level afterwards."""

    def __init__(self, logger: logging.Logger):
        self.logger, self.level = logger, logger.level
        logger.setLevel(logging.WARNING)

    def restore(self) -> None:
        self.logger.setLevel(self.level)
