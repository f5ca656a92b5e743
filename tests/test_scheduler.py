"""The local scheduler: a session fires the workflow's schedules at their times, through the landing handler."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from conftest import configured, local_project
from mlops_pipeline.config import Schedules
from mlops_pipeline.demo_data import write_demo_pair
from mlops_pipeline.local.events import ScheduleEvent
from mlops_pipeline.local.runtime import LocalRuntime
from mlops_pipeline.local.scheduler import LocalScheduler, pipeline_schedules, workspace_versions
from mlops_pipeline.local.stores import Workspace, version_of

UTC = timezone.utc


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class BeforeTheHour:
    """Real time, shifted so that its first reading (when `local up` starts its scheduler) is 0.3 s before ``hour``."""

    def __init__(self, hour: datetime):
        self.hour, self.shift = hour, None

    def __call__(self) -> datetime:
        if self.shift is None:
            self.shift = self.hour - timedelta(seconds=0.3) - datetime.now(UTC)
        return datetime.now(UTC) + self.shift


def scheduled(example_config, **schedules):
    return configured(example_config, schedules=Schedules(**schedules))


def test_a_cron_schedule_fires_once_when_its_time_comes(example_config):
    clock = Clock(datetime(2026, 11, 26, 2, 59, 58, tzinfo=UTC))
    schedules = pipeline_schedules(scheduled(example_config, retraining="cron(0 3 * * ? *)"))
    scheduler = LocalScheduler(schedules, clock)
    assert scheduler.due() == []
    clock.now += timedelta(seconds=2)
    ((schedule, when),) = scheduler.due()
    assert (schedule.name, schedule.kind, when) == ("attrition-retraining", "train", clock.now)
    assert scheduler.due() == []  # once
    clock.now += timedelta(days=3, hours=1)  # a session that could not keep up fires the latest time once
    ((_, when),) = scheduler.due()
    assert when == datetime(2026, 11, 29, 3, 0, tzinfo=UTC)


def test_a_rate_counts_from_the_start_of_the_session(example_config):
    start = datetime(2026, 11, 26, 1, 7, 30, tzinfo=UTC)
    clock = Clock(start)
    scheduler = LocalScheduler(pipeline_schedules(scheduled(example_config, batch_scoring="rate(2 hours)")), clock)
    clock.now = start + timedelta(hours=2)
    ((schedule, when),) = scheduler.due()
    assert schedule.name == "attrition-batch-scoring" and when == start + timedelta(hours=2)


def test_the_local_feature_store_is_listed_as_list_object_versions_answers(tmp_path):
    workspace = Workspace.resolve(tmp_path / "ws")
    source = tmp_path / "x.csv"
    source.write_text("a,b\n1,2\n")
    path = workspace.put_file("store", "data/train/x.csv", source, keep_version=True)
    (page,) = workspace_versions(workspace, "store", "data/train/")
    (version,) = page["Versions"]
    assert version["Key"] == "data/train/x.csv" and version["VersionId"] == version_of(path)
    assert version["Size"] == 8 and version["ETag"].startswith('"') and version["LastModified"].tzinfo is not None


@pytest.mark.slow
def test_local_up_fires_the_schedules_and_a_fire_retrains_on_the_latest_file(example_config, tmp_path):
    """Hourly retraining and batch scoring, the session's clock just before the hour. With nothing landed, `local
    up` fires both and starts nothing, saying why; then, with a file landed, the next hour's fire trains on it."""
    config = configured(
        example_config,
        tuning={"max_jobs": 1, "max_parallel_jobs": 1, "seed": 7},
        quality_gate={"threshold": 0.5},  # 400 rows: the fire must retrain, not meet the example's 0.70 gate
        schedules=Schedules(retraining="cron(0 * * * ? *)", batch_scoring="cron(0 * * * ? *)"),
    )
    train, _ = write_demo_pair(tmp_path / "data", 400, 50)
    hour = (datetime.now(UTC) + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    events = []
    runtime = LocalRuntime(
        config,
        Workspace.resolve(tmp_path / "ws"),
        local_project(tmp_path / "project"),
        on_event=events.append,
        clock=BeforeTheHour(hour),
    )
    with runtime:
        assert runtime.watch(0.1, rounds=8) == []
        nothing = {event.schedule: event for event in events if isinstance(event, ScheduleEvent)}
        key = runtime.land("train", train)  # what `local land` does; no watcher runs now, only the schedule
        runtime.clock = BeforeTheHour(hour + timedelta(hours=1))
        scheduler = runtime.scheduler()
        fired = []
        while not fired:
            fired = [event for event in runtime.fire_schedules(scheduler) if event.execution]
            time.sleep(0.1)
        (retraining,) = fired
        result = runtime.wait(retraining.execution)
    assert set(nothing) == {"attrition-retraining", "attrition-batch-scoring"}
    assert nothing["attrition-retraining"].scheduled_time == hour.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert nothing["attrition-retraining"].ignored == "no file under s3://attrition-feature-store/data/train/ to run"
    assert nothing["attrition-batch-scoring"].execution is None
    assert retraining.schedule == "attrition-retraining" and retraining.execution.startswith("train-employees-train-")
    assert result.succeeded, (result.error, result.cause)
    started = runtime.records.read(retraining.execution)["input"]
    assert started["key"] == key and started["event_time"] == retraining.scheduled_time
    assert started["version_id"] == version_of(runtime.workspace.path(runtime.target.feature_store_bucket, key))
