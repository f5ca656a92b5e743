"""``aws-sdk:glue:startCrawler``: locally, the crawl runs at once and writes what Athena would see.

One table per folder under the crawler's S3 target; columns are inferred from the CSV files there
(``col0``, ``col1``... for header-less files, as Glue names them) and recorded in a catalog file in
the metadata store, which ``mlops-pipeline local tables`` prints.
"""

from __future__ import annotations

import json

import pandas as pd

from mlops_pipeline.local.integrations import serves
from mlops_pipeline.local.jobs import now
from mlops_pipeline.local.services import LocalServices
from mlops_pipeline.local.stores import parse_s3_uri, write_atomic
from mlops_pipeline.local.tasks import TaskControl, TaskFailure

CRAWLERS = "glue-crawlers"
SAMPLE_ROWS = 1000
CLIENT_ERROR = "Glue.InvalidInputException"
GLUE_TYPES = {"int64": "bigint", "float64": "double", "bool": "boolean", "object": "string"}


def define_crawler(services: LocalServices, name: str, database: str, target: str, catalog_uri: str) -> None:
    """The local counterpart of the Terraform ``aws_glue_crawler``; ``catalog_uri`` is where tables go."""
    services.records.put(
        CRAWLERS,
        name,
        {
            "Name": name,
            "DatabaseName": database,
            "Targets": {"S3Targets": [{"Path": target}]},
            "CatalogUri": catalog_uri,
        },
    )


@serves("aws-sdk:glue:startCrawler", client_error=CLIENT_ERROR)
def start_crawler(services: LocalServices, params: dict, control: TaskControl) -> dict:
    crawler = services.records.get(CRAWLERS, params["Name"])
    if crawler is None:
        raise TaskFailure("Glue.EntityNotFoundException", f"Crawler entry with name {params['Name']} does not exist")
    tables = {}
    for target in crawler["Targets"]["S3Targets"]:
        tables.update(crawl(services, target["Path"]))
    catalog = {
        "Database": crawler["DatabaseName"],
        "Crawler": crawler["Name"],
        "CrawledAt": now().isoformat(),
        "Tables": tables,
    }
    write_atomic(services.workspace.path_of(crawler["CatalogUri"]), json.dumps(catalog, indent=2).encode())
    return {}


def crawl(services: LocalServices, target: str) -> dict:
    """{table: {location, columns}} for each folder directly holding CSV files under ``target``."""
    bucket, prefix = parse_s3_uri(target)
    folders: dict[str, list] = {}
    for key, path in services.workspace.objects(bucket, prefix):
        folder = key.rsplit("/", 1)[0] if "/" in key else ""
        folders.setdefault(folder, []).append(path)
    tables = {}
    for folder, paths in folders.items():
        table = (folder.rsplit("/", 1)[-1] or bucket).replace("-", "_").lower()
        tables[table] = {"Location": f"s3://{bucket}/{folder}/", "Files": len(paths), "Columns": _columns(paths[0])}
    return tables


def _columns(path) -> list[dict]:
    sample = pd.read_csv(path, header=None, nrows=SAMPLE_ROWS)
    return [
        {"Name": f"col{index}", "Type": GLUE_TYPES.get(str(dtype), "string")}
        for index, dtype in enumerate(sample.dtypes)
    ]
