"""New files in the local feature store reach the landing handler as S3 events, once each."""

from __future__ import annotations

import os
from urllib.parse import unquote_plus

from mlops_pipeline.handlers.s3_landing import Settings, parse_record
from mlops_pipeline.local.stores import Workspace
from mlops_pipeline.local.watcher import FeatureStoreWatcher, object_created_event


class Recorder:
    """Stands in for the Step Functions client the handler calls."""

    def __init__(self):
        self.started = []

    def start_execution(self, stateMachineArn, name, input):
        self.started.append((stateMachineArn, name))


SETTINGS = Settings(training_arn="arn:train", scoring_arn="arn:score")


def test_the_event_is_what_s3_sends_for_a_put(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a\n1\n")
    event = object_created_event("store", "data/train/my file+1.csv", path)
    record = event["Records"][0]
    assert record["eventName"] == "ObjectCreated:Put" and record["s3"]["object"]["key"] == "data/train/my+file%2B1.csv"
    landed = parse_record(record)
    assert landed.key == unquote_plus(record["s3"]["object"]["key"]) == "data/train/my file+1.csv"
    assert landed.size == 4 and landed.version_id and len(landed.etag) == 32


def test_each_landed_version_starts_one_execution_even_after_a_restart(tmp_path):
    store = Workspace.resolve(tmp_path)
    client = Recorder()
    store.put_bytes("store", "data/train/a.csv", b"a\n1\n")
    store.put_bytes("store", "data/score/b.csv", b"a\n2\n")
    store.put_bytes("store", "notes/readme.txt", b"hi")
    outcomes = FeatureStoreWatcher(store, "store", SETTINGS, client).poll()
    assert [arn for arn, _ in client.started] == ["arn:train", "arn:score"]  # in landing order
    assert [o["key"] for o in outcomes if "ignored" in o] == ["notes/readme.txt"]
    assert FeatureStoreWatcher(store, "store", SETTINGS, client).poll() == []  # a new watcher remembers
    path = store.put_bytes("store", "data/train/a.csv", b"a\n1\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1000))
    FeatureStoreWatcher(store, "store", SETTINGS, client).poll()
    assert len(client.started) == 3 and client.started[2][1] != client.started[0][1]  # a new version, a new execution
