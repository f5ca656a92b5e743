"""``aws-sdk:glue:startCrawler``: locally, the crawl runs at once and writes what Athena would see.

One table per folder under the crawler's S3 target; columns are inferred from the CSV files there
(``col0``, ``col1``... for header-less files, as Glue names them) and recorded in a catalog file in
the metadata store, which ``mlops-pipeline local tables`` prints.
"""

from __future__ import annotations

import json

import pandas as pd

from mlops_pipeline.aws_errors import AwsError
from mlops_pipeline.local.integrations import serves
from mlops_pipeline.local.jobs import now
from mlops_pipeline.local.services import LocalServices
from mlops_pipeline.local.stores import parse_s3_uri, write_atomic
from mlops_pipeline.local.tasks import TaskControl

CRAWLERS = "glue-crawlers"
SAMPLE_ROWS = 1000
CLIENT_ERROR = "InvalidInputException"
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
        raise AwsError("EntityNotFoundException", f"Crawler entry with name {params['Name']} does not exist")
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
    """{table: {location, columns[, partition keys]}} for the folders holding CSV files under ``target``;
    ``key=value`` folders are partitions of their parent's table, as a Glue crawler reads them."""
    bucket, prefix = parse_s3_uri(target)
    folders: dict[str, dict] = {}
    for key, path in services.workspace.objects(bucket, prefix):
        parts = key.split("/")[:-1]
        partitions = []
        while parts and "=" in parts[-1]:
            partitions.insert(0, parts.pop().split("=", 1)[0])
        folder = folders.setdefault("/".join(parts), {"paths": [], "partitions": partitions})
        folder["paths"].append(path)
    tables = {}
    for folder, found in folders.items():
        table = (folder.rsplit("/", 1)[-1] or bucket).replace("-", "_").lower()
        tables[table] = {
            "Location": f"s3://{bucket}/{folder}/",
            "Files": len(found["paths"]),
            "Columns": _columns(found["paths"][0]),
        }
        if found["partitions"]:
            tables[table]["PartitionKeys"] = [{"Name": name, "Type": "string"} for name in found["partitions"]]
    return tables


def _columns(path) -> list[dict]:
    """Names from a header row when the file has one (a first row of text above typed rows, Glue's rule),
    else ``col0``, ``col1``...; types from the rows."""
    sample = pd.read_csv(path, header=None, nrows=SAMPLE_ROWS, dtype=str, keep_default_na=False)
    header = len(sample) > 1 and _is_header(sample)
    names = list(sample.iloc[0]) if header else [f"col{index}" for index in range(sample.shape[1])]
    rows = pd.read_csv(path, header=0 if header else None, nrows=SAMPLE_ROWS)
    types = [GLUE_TYPES.get(str(dtype), "string") for dtype in rows.dtypes]
    return [{"Name": str(name), "Type": kind} for name, kind in zip(names, types, strict=True)]


def _is_header(sample: pd.DataFrame) -> bool:
    first, rest = sample.iloc[0], sample.iloc[1:]
    text = all(not _is_number(value) for value in first)
    typed = any(all(_is_number(value) for value in rest[column] if value != "") for column in rest.columns)
    return text and typed


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True
