"""Build the Lambdas' zip (the landing handler and the failure notifier): the handler files and nothing else
(boto3 comes with Lambda).

python -m mlops_pipeline.lambda_zip build/landing_handler.zip
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent
#: The only files the handler imports.
HANDLER_FILES = (
    "__init__.py",
    "layout.py",
    "naming.py",
    "handlers/__init__.py",
    "handlers/s3_landing.py",
    "handlers/failure_notice.py",
)
FIXED_TIME = (2020, 1, 1, 0, 0, 0)  # same bytes on every build


def build(destination: Path) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for relative in HANDLER_FILES:
            info = zipfile.ZipInfo(f"mlops_pipeline/{relative}", FIXED_TIME)
            info.external_attr = 0o644 << 16
            archive.writestr(info, (PACKAGE_ROOT / relative).read_bytes(), zipfile.ZIP_DEFLATED)
    return destination


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "build/landing_handler.zip")
    print(f"wrote {build(target)}")
