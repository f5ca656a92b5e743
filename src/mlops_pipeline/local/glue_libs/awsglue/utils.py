"""``getResolvedOptions``, behaving as AWS Glue's documents it for job scripts.

Each name asked for is a required ``--NAME value`` (or ``--NAME=value``) argument; a missing one raises
``GlueArgumentError``; arguments nobody asked for (Glue's own, ``--extra-py-files``) are ignored; option
names are never abbreviated. The result also carries Glue's own options: ``job_bookmark_option``
(``job-bookmark-disable`` unless given), ``JOB_ID``, ``JOB_RUN_ID``, ``SECURITY_CONFIGURATION``,
``encryption_type``, ``TempDir`` and ``RedshiftTempDir``. Asking for one of Glue's reserved names is an error.
"""

from __future__ import annotations

import argparse

BOOKMARK_CHOICES = ("job-bookmark-enable", "job-bookmark-disable", "job-bookmark-pause")
CONTINUATION_CHOICES = ("continuation-enabled", "continuation-readonly", "continuation-ignore")
RESERVED = (
    "job-bookmark-option",
    "continuation-option",
    "job-bookmark-from",
    "job-bookmark-to",
    "JOB_ID",
    "JOB_RUN_ID",
    "SECURITY_CONFIGURATION",
    "encryption-type",
    "enable-data-lineage",
)


class GlueArgumentError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # raise instead of exiting, as Glue's parser does
        raise GlueArgumentError(message)


def getResolvedOptions(args: list[str], options: list[str]) -> dict:  # noqa: N802 (Glue's name)
    reserved = [name for name in options if name in RESERVED]
    if reserved:
        raise RuntimeError(f"Using reserved arguments --{reserved[0]}")
    parser = _Parser(allow_abbrev=False)
    parser.add_argument("--job-bookmark-option", choices=BOOKMARK_CHOICES)
    parser.add_argument("--continuation-option", choices=CONTINUATION_CHOICES)
    for name in (
        "--job-bookmark-from",
        "--job-bookmark-to",
        "--JOB_ID",
        "--JOB_RUN_ID",
        "--SECURITY_CONFIGURATION",
        "--encryption-type",
        "--enable-data-lineage",
        "--TempDir",
        "--RedshiftTempDir",
    ):
        parser.add_argument(name)
    for name in options:
        if name not in ("TempDir", "RedshiftTempDir"):
            parser.add_argument(f"--{name}", required=True)
    parsed, _unknown = parser.parse_known_args(args[1:])
    resolved = vars(parsed)
    temp = resolved.get("TempDir") or resolved.get("RedshiftTempDir")
    resolved["TempDir"] = resolved["RedshiftTempDir"] = temp
    continuation = resolved.pop("continuation_option")
    if resolved["job_bookmark_option"] is None:
        translated = {"continuation-enabled": "job-bookmark-enable", "continuation-readonly": "job-bookmark-pause"}
        resolved["job_bookmark_option"] = translated.get(continuation, "job-bookmark-disable")
    return resolved
