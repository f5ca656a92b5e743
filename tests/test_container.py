"""Starting container programs without Docker."""

from __future__ import annotations

import pytest

from conftest import PROGRAM
from mlops_pipeline.container import free_port, start_server
from mlops_pipeline.errors import PipelineError


def test_free_port_is_bindable():
    import socket

    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_a_server_that_cannot_load_its_model_is_a_clear_error(tmp_path):
    with pytest.raises(PipelineError, match=r"the inference server exited with status \d+; see .*serve.log"):
        start_server(PROGRAM, tmp_path / "no-model", tmp_path / "serve.log", workers=1, ready_timeout=60)
    assert "xgboost-model.json" in (tmp_path / "serve.log").read_text()
