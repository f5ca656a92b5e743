"""The local crawl records the output tables' columns where `local tables` reads them."""

from __future__ import annotations

import json

import pytest

from conftest import dispatch, running_control
from mlops_pipeline.local.integrations.glue_crawler import define_crawler, start_crawler
from mlops_pipeline.local.tasks import TaskFailure


def test_each_folder_becomes_a_table_with_inferred_columns(services):
    services.workspace.put_bytes("out", "p/predictions/a.csv", b"E1,0.25\nE2,0.5\n")
    services.workspace.put_bytes("out", "p/predictions/b.csv", b"E3,0.75\n")
    define_crawler(services, "crawler", "p_output", "s3://out/p/", "s3://meta/p/catalog/tables.json")
    assert start_crawler(services, {"Name": "crawler"}, running_control()) == {}
    catalog = json.loads(services.workspace.path("meta", "p/catalog/tables.json").read_text())
    assert catalog["Database"] == "p_output"
    assert catalog["Tables"]["predictions"] == {
        "Location": "s3://out/p/predictions/",
        "Files": 2,
        "Columns": [{"Name": "col0", "Type": "string"}, {"Name": "col1", "Type": "double"}],
    }


def test_an_unknown_crawler_is_entity_not_found(services):
    with pytest.raises(TaskFailure) as failure:
        dispatch(services, "aws-sdk:glue:startCrawler", {"Name": "nope"})
    assert failure.value.error == "Glue.EntityNotFoundException"
    assert failure.value.cause.startswith("Crawler entry with name nope does not exist (Service: Glue, Status Code:")


def test_a_header_names_the_columns_and_key_value_folders_are_partitions(services):
    services.workspace.put_bytes("out", "p/predictions/run=s1/a.csv", b"employee_id,probability\nE1,0.25\n")
    services.workspace.put_bytes("out", "p/predictions/run=s2/a.csv", b"employee_id,probability\nE2,0.5\n")
    define_crawler(services, "crawler", "p_output", "s3://out/p/predictions/", "s3://meta/p/catalog/tables.json")
    start_crawler(services, {"Name": "crawler"}, running_control())
    catalog = json.loads(services.workspace.path("meta", "p/catalog/tables.json").read_text())
    assert catalog["Tables"] == {
        "predictions": {
            "Location": "s3://out/p/predictions/",
            "Files": 2,
            "Columns": [{"Name": "employee_id", "Type": "string"}, {"Name": "probability", "Type": "double"}],
            "PartitionKeys": [{"Name": "run", "Type": "string"}],
        }
    }
