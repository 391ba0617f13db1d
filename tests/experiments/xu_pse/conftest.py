"""What the xu_pse script tests share: quick runs, and the checks every script's files must pass."""

import os

import pytest

from keras_advinterp import runner


@pytest.fixture(scope="module")
def quick_records(tmp_path_factory, request):
    """``{name: record}`` of the quick run of each ``xu_pse/<name>`` in the test module's ``NAMES``."""
    out = tmp_path_factory.mktemp("results")
    return {name: runner.run(runner.load_experiment(f"xu_pse/{name}"), quick=True, out_dir=out, progress=False)
            for name in request.module.NAMES}


def check_written(records: dict) -> None:
    """Each script is listed, wrote its md / csv / json and a figure under quick/, and says how it differs."""
    keys = runner.discover()
    for name, rec in records.items():
        assert f"xu_pse/{name}" in keys
        assert rec["quick"] and "/quick/" in rec["files"]["md"].replace(os.sep, "/")
        for kind in ("md", "csv", "json"):
            assert os.path.getsize(rec["files"][kind]) > 0
        assert os.path.getsize(rec["files"]["png"]) > 5000
        assert any("differs from the paper" in n for n in rec["notes"])
