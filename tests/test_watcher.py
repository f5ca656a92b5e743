"""New files in the local feature store reach the landing handler as S3 events, once each."""

from __future__ import annotations

import os
import threading
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


class HeldRecorder(Recorder):
    """A client whose first start waits until told to go on (another session polls meanwhile)."""

    def __init__(self):
        super().__init__()
        self.starting, self.go_on = threading.Event(), threading.Event()

    def start_execution(self, stateMachineArn, name, input):
        self.starting.set()
        assert self.go_on.wait(10)
        super().start_execution(stateMachineArn, name, input)


def test_two_sessions_polling_one_workspace_pass_each_landed_version_on_once(tmp_path):
    store, first, second = Workspace.resolve(tmp_path), HeldRecorder(), Recorder()
    store.put_bytes("store", "data/train/a.csv", b"a\n1\n")
    polling = threading.Thread(target=FeatureStoreWatcher(store, "store", SETTINGS, first, "s1").poll)
    polling.start()
    assert first.starting.wait(10)  # the first session is passing a.csv on
    store.put_bytes("store", "data/score/b.csv", b"a\n2\n")
    other = threading.Thread(target=FeatureStoreWatcher(store, "store", SETTINGS, second, "s2").poll)
    other.start()
    other.join(0.5)
    first.go_on.set()
    polling.join(10)
    other.join(10)
    assert [arn for arn, _ in first.started] == ["arn:train"] and [arn for arn, _ in second.started] == ["arn:score"]
    assert FeatureStoreWatcher(store, "store", SETTINGS, Recorder(), "s3").poll() == []  # both remembered


def test_a_key_whose_execution_has_no_record_yet_is_forgotten_only_once_its_session_is_gone(tmp_path):
    store = Workspace.resolve(tmp_path)
    store.put_bytes("store", "data/train/a.csv", b"a\n1\n")
    FeatureStoreWatcher(store, "store", SETTINGS, Recorder(), "s-live").poll()
    watcher = FeatureStoreWatcher(store, "store", None, None)
    assert watcher.forget_unrecorded(lambda name: False, lambda session: session == "s-live") == []
    assert watcher.forget_unrecorded(lambda name: False, lambda session: False) == ["data/train/a.csv"]
