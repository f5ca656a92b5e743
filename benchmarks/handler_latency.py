"""Landing handler: cold import cost relative to boto3, and time per record.

    python benchmarks/handler_latency.py [--runs 15] [--records 20000]

Cold import: median wall time of fresh interpreters importing the handler module, divided by the
median for `import boto3` alone (target <= 1.1). Per record: handle_event against an in-process
Step Functions stub, so only the handler's own work is timed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from urllib.parse import quote_plus

from mlops_pipeline.handlers.s3_landing import Settings, handle_event


def cold_import_seconds(module: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


class StubStepFunctions:
    """Accepts every start, as Step Functions would for new names."""

    def __init__(self) -> None:
        self.started = 0

    def start_execution(self, **_: object) -> dict:
        self.started += 1
        return {"executionArn": "arn:stub", "startDate": 0}


def per_record_seconds(records: int) -> float:
    stub = StubStepFunctions()
    settings = Settings("arn:training", "arn:scoring")
    events = [
        {
            "Records": [
                {
                    "eventName": "ObjectCreated:Put",
                    "eventTime": "2026-11-24T10:00:00Z",
                    "s3": {
                        "bucket": {"name": "feature-store"},
                        "object": {"key": quote_plus(f"data/train/file {n}.csv"), "size": 10, "eTag": f"e{n}"},
                    },
                }
            ]
        }
        for n in range(records)
    ]
    started = time.perf_counter()
    for item in events:
        handle_event(item, stub, settings)
    elapsed = time.perf_counter() - started
    assert stub.started == records
    return elapsed / records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--records", type=int, default=20_000)
    args = parser.parse_args()
    boto3_alone = cold_import_seconds("boto3", args.runs)
    handler = cold_import_seconds("boto3, mlops_pipeline.handlers.s3_landing", args.runs)
    record = per_record_seconds(args.records)
    print(f"cold import boto3 alone:         {boto3_alone * 1000:8.1f} ms (median of {args.runs})")
    print(f"cold import boto3 + handler:     {handler * 1000:8.1f} ms")
    print(f"ratio handler / boto3:           {handler / boto3_alone:8.2f}  (target <= 1.1)")
    print(f"per record (in-process stub):    {record * 1e6:8.1f} µs over {args.records:,} records")


if __name__ == "__main__":
    main()
