"""The README's second command, as a new user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.dbt


def test_quickstart_runs_the_whole_job_and_prints_a_profile(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNALS_BATCH_")}
    folder = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "signals_batch.cli", "quickstart", "--directory", str(folder),
         "--json"],
        capture_output=True, text=True, env=env, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    profile = json.loads(result.stdout)
    assert profile["group"] == "ecommerce_user_v1"
    assert profile["key"] == "domain_userid"
    attributes = profile["attributes"]
    assert attributes["page_views_lifetime"] > 0
    assert isinstance(attributes["product_categories_viewed"], list)
    assert profile["run"]["new_events"] > 0
    # the demo project is a real project the other commands work on
    again = subprocess.run(
        [sys.executable, "-m", "signals_batch.cli", "run", "-p", str(folder), "--json",
         "--as-of", profile["as_of"]],
        capture_output=True, text=True, env=env, timeout=300, check=False)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["new_events"] == 0
    assert all(group["changed"] == 0 for group in summary["groups"])
