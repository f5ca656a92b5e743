"""The local EventBridge Scheduler: a session fires the workflow's schedules at their times.

Each fire is handed to the landing handler as the event deploy gives each schedule on AWS
(``s3_landing.scheduled_event``), so the object chosen, the execution's name and its input are the
handler's, exactly as on AWS. The clock is injectable (tests run a day's schedule in a second).

Fire times come from ``mlops_pipeline.schedules`` (croniter for cron). A rate counts from the session's
start, as on AWS it counts from the schedule's creation. A session that falls behind (a clock that jumps
several periods at once) fires only the latest time that came due, once.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Callable

from mlops_pipeline.config import PipelineConfig
from mlops_pipeline.local.stores import Workspace, etag_of, version_of
from mlops_pipeline.naming import schedule_name
from mlops_pipeline.schedules import ScheduleExpression, parse

Clock = Callable[[], datetime.datetime]


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


@dataclass(frozen=True)
class LocalSchedule:
    name: str  # <pipeline>-retraining, <pipeline>-batch-scoring: the schedules deploy creates
    kind: str  # train | score
    expression: ScheduleExpression
    timezone: str

    def next_fires(self, after: datetime.datetime, count: int, anchor: datetime.datetime | None = None) -> list:
        return self.expression.next_fires(after, count, self.timezone, anchor)


def pipeline_schedules(config: PipelineConfig) -> list[LocalSchedule]:
    """The workflow's schedules that are on, retraining first."""
    if config.schedules is None:
        return []
    zone = config.schedules.timezone
    return [
        LocalSchedule(schedule_name(config.name, kind), kind, parse(expression), zone)
        for kind, expression in config.schedules.by_kind().items()
    ]


@dataclass
class LocalScheduler:
    schedules: list[LocalSchedule]
    clock: Clock = utc_now
    _started: datetime.datetime = field(init=False)
    _next: dict[str, datetime.datetime | None] = field(init=False)

    def __post_init__(self) -> None:
        self._started = self.clock()
        self._next = {schedule.name: self._after(schedule, self._started) for schedule in self.schedules}

    def _after(self, schedule: LocalSchedule, moment: datetime.datetime) -> datetime.datetime | None:
        fires = schedule.next_fires(moment, 1, anchor=self._started)
        return fires[0] if fires else None

    def due(self) -> list[tuple[LocalSchedule, datetime.datetime]]:
        """The schedules whose next time has come, each with the latest such time; each fires once."""
        now = self.clock()
        fired = []
        for schedule in self.schedules:
            when = self._next[schedule.name]
            if when is None or when > now:
                continue
            while (later := self._after(schedule, when)) is not None and later <= now:
                when = later
            fired.append((schedule, when))
            self._next[schedule.name] = self._after(schedule, when)
        return fired


def workspace_versions(workspace: Workspace, bucket: str, prefix: str):
    """The local feature store as S3's ListObjectVersions answers it (one page; the current version of each
    key: a file landed again replaces the key's file, its earlier version stays readable but is not listed)."""
    versions = []
    for key, path in workspace.objects(bucket, prefix):
        stat = path.stat()
        modified = datetime.datetime.fromtimestamp(stat.st_mtime_ns / 1e9, datetime.timezone.utc)
        versions.append(
            {
                "Key": key,
                "VersionId": version_of(path),
                "IsLatest": True,
                "LastModified": modified,
                "ETag": etag_of(path),
                "Size": stat.st_size,
            }
        )
    yield {"Versions": versions, "DeleteMarkers": []}
