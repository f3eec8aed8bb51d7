"""The `signals-batch` command line: exit codes, messages and files, without running dbt.

Most tests call `signals_batch.cli.main` in-process with `sys.argv` patched (as the console
script does); a few run a real process to see exactly what a user sees.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
import yaml
from cli_helpers import make_project, run_cli, run_process

from signals_batch.compiler import compile_project
from signals_batch.config import load_settings
from signals_batch.definitions import load_definitions
from signals_batch.errors import InvalidInput
from signals_batch.project import Project

ANSI = re.compile(r"\x1b\[[0-9;]*m")

ONE_GROUP = """
name: other_group
attribute_key: user_id
owner: data@example.com
attributes:
  - {name: views, type: int64, aggregation: counter}
"""


@pytest.fixture(autouse=True)
def _no_outer_settings(monkeypatch):
    for name in list(os.environ):
        if name.startswith("SIGNALS_BATCH_"):
            monkeypatch.delenv(name)


@pytest.fixture
def project(tmp_path: Path, capsys) -> Path:
    """A project made by `signals-batch init` (scaffold definitions, DuckDB profile)."""
    directory = tmp_path / "proj"
    result = run_cli(capsys, "init", str(directory))
    assert result.code == 0, result.err
    return directory


def generated(directory: Path) -> dict[str, str]:
    """Every generated file's text, by path relative to the project."""
    roots = [directory / "models" / "signals_batch", directory / "dbt_packages"]
    return {
        str(p.relative_to(directory)): p.read_text()
        for root in roots
        if root.exists()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# --------------------------------------------------------------------------- init


def test_init_creates_the_project(project: Path):
    for name in (
        "dbt_project.yml",
        "profiles.yml",
        "signals_batch.yml",
        ".gitignore",
        "definitions/example.yml",
    ):
        assert (project / name).is_file(), name
    assert (project / "models").is_dir() and (project / "macros").is_dir()
    settings = yaml.safe_load((project / "signals_batch.yml").read_text())
    assert settings["warehouse"] == "duckdb"
    assert settings["start_date"] == "2025-01-01"
    assert load_settings(project).definitions == "definitions"


def test_init_writes_start_date_and_lists_files(tmp_path: Path, capsys):
    result = run_cli(capsys, "init", str(tmp_path / "p"), "--start-date", "2024-06-01")
    assert result.code == 0
    assert "wrote" in result.err and "signals_batch.yml" in result.err
    assert "next:" in result.err
    assert str(load_settings(tmp_path / "p").start_date) == "2024-06-01"


def test_init_refuses_an_existing_project(project: Path, capsys):
    before = (project / "signals_batch.yml").read_text()
    result = run_cli(capsys, "init", str(project))
    assert result.code == 2
    assert "already holds dbt_project.yml, signals_batch.yml" in result.err
    assert (project / "signals_batch.yml").read_text() == before


def test_init_rejects_an_unsupported_warehouse(tmp_path: Path, capsys):
    result = run_cli(capsys, "init", str(tmp_path / "p"), "--warehouse", "oracle")
    assert result.code == 2
    assert "warehouse 'oracle' is not supported" in result.err
    assert not (tmp_path / "p").exists()


def test_init_with_sample_events_fills_the_source_table_and_names_the_as_of_date(
        tmp_path: Path, capsys, monkeypatch):
    from signals_batch.quickstart import write_sample_events
    from signals_batch.warehouse import connect

    monkeypatch.setenv("SIGNALS_BATCH_SOURCE", "raw.snowplow_events")
    result = run_cli(capsys, "init", str(tmp_path / "p"), "--sample-events")
    assert result.code == 0, result.err
    assert "wrote 5000 sample events into warehouse.duckdb raw.snowplow_events" in result.err
    assert "signals-batch run --as-of 2025-01-15" in result.err
    with connect(tmp_path / "p") as con:
        [(rows, first, last)] = con.execute(
            "select count(*), min(derived_tstamp), max(derived_tstamp) "
            "from raw.snowplow_events").fetchall()
    assert rows == 5000
    assert str(first) >= "2025-01-01" and str(last) < "2025-01-15"  # all before the as-of
    # never mixed into a table that already holds events
    with pytest.raises(InvalidInput, match="already holds 5000 rows"):
        write_sample_events(tmp_path / "p", "raw.snowplow_events")


def test_init_with_sample_events_is_for_duckdb_only(tmp_path: Path, capsys):
    result = run_cli(capsys, "init", str(tmp_path / "p"), "--warehouse", "snowflake",
                     "--sample-events")
    assert result.code == 2
    assert "--sample-events writes into the project's DuckDB file" in result.err
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("start_date", ["2025-02-30", 'x"y', "20250101"])
def test_init_rejects_a_start_date_that_is_not_a_date_before_writing(
        tmp_path: Path, capsys, start_date):
    result = run_cli(capsys, "init", str(tmp_path / "p"), "--start-date", start_date)
    assert result.code == 2
    assert result.err.strip() == f"error: --start-date {start_date!r} is not a date (YYYY-MM-DD)"
    assert not (tmp_path / "p").exists()


# --------------------------------------------------------------------------- validate


def test_validate_lists_the_groups(project: Path, capsys):
    result = run_cli(capsys, "validate", "-p", str(project))
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        "ecommerce_user_v1: batch, key domain_userid, 12 attributes",
        "session_summary_v1: batch, key domain_sessionid, 4 attributes",
        "2 group(s) valid",
    ]


def test_validate_json(project: Path, capsys):
    result = run_cli(capsys, "validate", "--json", "-p", str(project))
    assert result.code == 0
    data = json.loads(ANSI.sub("", result.out))
    assert data == {
        "valid": True,
        "groups": [
            {
                "group": "ecommerce_user_v1",
                "type": "batch",
                "key": "domain_userid",
                "attributes": 12,
            },
            {
                "group": "session_summary_v1",
                "type": "batch",
                "key": "domain_sessionid",
                "attributes": 4,
            },
        ],
    }


def test_validate_runs_in_the_current_folder(project: Path, capsys, monkeypatch):
    monkeypatch.chdir(project)
    result = run_cli(capsys, "validate")
    assert result.code == 0
    assert "2 group(s) valid" in result.out


def test_validate_reports_every_problem(project: Path, capsys):
    example = project / "definitions" / "example.yml"
    text = example.read_text().replace("aggregation: counter", "aggregation: count", 1)
    example.write_text(text.replace("ttl: P365D", "ttl: P1Y"))
    result = run_cli(capsys, "validate", "-p", str(project))
    assert result.code == 2
    assert "invalid definitions (2 problems)" in result.err
    assert "attribute 'page_views_7d': aggregation: 'count' is not one of" in result.err
    assert "group 'ecommerce_user': ttl: duration 'P1Y' uses months or years" in result.err
    assert "Traceback" not in result.err


def test_validate_json_lists_the_problems_on_stdout(project: Path, capsys):
    example = project / "definitions" / "example.yml"
    example.write_text(example.read_text().replace("ttl: P365D", "ttl: P1Y"))
    result = run_cli(capsys, "validate", "--json", "-p", str(project))
    assert result.code == 2
    assert "invalid definitions (1 problem)" in result.err  # the text stays on stderr
    data = json.loads(ANSI.sub("", result.out))
    assert data["valid"] is False
    [problem] = data["problems"]
    assert problem["message"].startswith("ttl: duration 'P1Y' uses months or years")
    assert problem == {"source": str(example), "group": "ecommerce_user", "attribute": None,
                       "message": problem["message"]}

    write_settings(project, definitions="nowhere")  # not a definition problem: one message
    result = run_cli(capsys, "validate", "--json", "-p", str(project))
    assert result.code == 2
    [problem] = json.loads(ANSI.sub("", result.out))["problems"]
    assert "definitions not found" in problem["message"] and problem["source"] is None


def test_version_prints_the_package_version(capsys):
    from signals_batch import __version__

    result = run_cli(capsys, "--version")
    assert result.code == 0
    assert result.out.strip() == f"signals-batch {__version__}"


def test_validate_fails_when_the_definitions_hold_no_group(project: Path, capsys):
    """`run` would refuse an empty definitions folder: validate says so first (CI)."""
    for path in (project / "definitions").iterdir():
        path.unlink()
    result = run_cli(capsys, "validate", "-p", str(project))
    assert result.code == 2
    assert result.err.startswith("error: no attribute groups in the definitions ('definitions'")
    result = run_cli(capsys, "validate", "--json", "-p", str(project))
    assert result.code == 2
    assert json.loads(ANSI.sub("", result.out))["valid"] is False


# --------------------------------------------------------------------------- generate


def test_generate_writes_files_then_changes_nothing(project: Path, capsys):
    first = run_cli(capsys, "generate", "-p", str(project))
    assert first.code == 0, first.err
    count = int(first.out.split()[0])
    assert count > 0
    files = generated(project)
    assert "models/signals_batch/ecommerce_user_v1_attributes.sql" in files
    assert "models/signals_batch/session_summary_v1_daily.sql" in files
    assert len(files) == count
    assert "wrote" in first.err

    second = run_cli(capsys, "generate", "-p", str(project))
    assert second.code == 0
    assert second.out.strip() == "0 file(s) changed"
    assert generated(project) == files


def test_generate_says_removed_for_the_files_it_deletes(project: Path, capsys):
    assert run_cli(capsys, "generate", "-p", str(project)).code == 0
    example = project / "definitions" / "example.yml"
    groups = yaml.safe_load(example.read_text())
    example.write_text(yaml.safe_dump([g for g in groups if g["name"] != "session_summary"]))
    result = run_cli(capsys, "generate", "-p", str(project))
    assert result.code == 0, result.err
    removed = "models/signals_batch/session_summary_v1_daily.sql"
    assert f"removed {removed}" in result.err.splitlines()
    assert f"wrote {removed}" not in result.err
    assert not (project / removed).exists()
    assert "wrote models/signals_batch/_signals_batch_models.yml" in result.err


def test_generate_check(project: Path, capsys):
    stale = run_cli(capsys, "generate", "--check", "-p", str(project))
    assert stale.code == 1  # nothing generated yet
    assert "run `signals-batch generate`" in stale.err
    assert generated(project) == {}  # --check writes nothing

    assert run_cli(capsys, "generate", "-p", str(project)).code == 0
    fresh = run_cli(capsys, "generate", "--check", "-p", str(project))
    assert fresh.code == 0, fresh.err
    assert "up to date" in fresh.out

    example = project / "definitions" / "example.yml"
    example.write_text(example.read_text().replace("period: P7D", "period: P14D", 1))
    changed = run_cli(capsys, "generate", "--check", "-p", str(project))
    assert changed.code == 1
    assert "stale: " in changed.err and "ecommerce_user_v1" in changed.err
    assert "Traceback" not in changed.err


def test_compile_is_byte_identical_across_calls(project: Path):
    first = compile_project(load_definitions(project / "definitions").groups)
    second = compile_project(list(reversed(load_definitions(project / "definitions").groups)))
    assert first.files.keys() == second.files.keys()
    for path, text in first.files.items():
        assert text.encode() == second.files[path].encode(), path


def test_generate_with_invalid_definitions_exits_2(project: Path, capsys):
    (project / "definitions" / "broken.yml").write_text("name: [unclosed\n")
    result = run_cli(capsys, "generate", "-p", str(project))
    assert result.code == 2
    assert "broken.yml: cannot parse YAML at line" in result.err
    assert generated(project) == {}


# --------------------------------------------------------------------------- run (no dbt)


def test_run_with_a_bad_as_of_exits_2(project: Path, capsys):
    result = run_cli(capsys, "run", "--as-of", "notadate", "-p", str(project))
    assert result.code == 2
    assert result.err.strip() == "error: --as-of 'notadate' is not a date (YYYY-MM-DD)"


def test_run_with_an_unknown_group_exits_2(project: Path, capsys):
    result = run_cli(capsys, "run", "--select", "nope", "-p", str(project))
    assert result.code == 2
    assert "unknown group nope" in result.err
    assert "ecommerce_user_v1" in result.err


def test_test_with_stale_generated_files_exits_1_like_generate_check(project: Path, capsys):
    result = run_cli(capsys, "test", "-p", str(project))  # nothing generated yet
    assert result.code == 1
    assert result.err.startswith("error: generated files are stale: ")
    assert result.err.strip().endswith("- run `signals-batch generate`")
    assert not (project / "logs" / "dbt.log").exists()  # dbt never started


def test_test_before_any_run_says_to_run_first(project: Path, capsys):
    assert run_cli(capsys, "generate", "-p", str(project)).code == 0
    result = run_cli(capsys, "test", "-p", str(project))  # no warehouse file yet
    assert result.code == 1
    assert result.err.strip().endswith("run `signals-batch run` first")
    from signals_batch.warehouse import connect

    with connect(project, create=True):  # a warehouse, no tables
        pass
    result = run_cli(capsys, "test", "-p", str(project))
    assert result.code == 1
    assert result.err.startswith("error: no tables to test yet for ecommerce_user_v1")
    assert not (project / "logs" / "dbt.log").exists()  # dbt never started


def test_test_progress_counts_out_of_the_number_of_tests():
    from types import SimpleNamespace

    from signals_batch.runner.dbt import _progress_listener

    def event(name: str, **data):
        node = SimpleNamespace(node_name=data.pop("node"))
        return SimpleNamespace(info=SimpleNamespace(name=name),
                               data=SimpleNamespace(node_info=node, **data))

    seen = []
    listen = _progress_listener(lambda *args: seen.append(args))
    # dbt's LogTestResult has `num_models` where LogModelResult has `total`
    listen(event("LogTestResult", node="unique_x", status="pass", index=1, num_models=13))
    listen(event("LogModelResult", node="x_daily", status="success", index=2, total=8))
    assert seen == [("unique_x", "pass", 1, 13), ("x_daily", "success", 2, 8)]


# --------------------------------------------------------------------------- store commands


@pytest.mark.parametrize("command", [["sync"], ["get", "x"], ["status"]])
def test_an_unknown_store_exits_2_naming_the_choices(project: Path, capsys, command):
    result = run_cli(capsys, *command, "--store", "foo", "-p", str(project))
    assert result.code == 2
    assert result.err.strip() == "error: unknown store 'foo': use local, redis or http (--store)"


def test_get_exits_1_when_no_group_has_values_with_json_too(project: Path, capsys):
    plain = run_cli(capsys, "get", "nope", "-p", str(project))
    assert plain.code == 1
    assert "no values for 'nope' in the store" in plain.err
    assert "ecommerce_user_v1 (by domain_userid)" in plain.err  # which key it was looked up as
    as_json = run_cli(capsys, "get", "nope", "--json", "-p", str(project))
    assert as_json.code == 1
    assert json.loads(ANSI.sub("", as_json.out)) == {
        "ecommerce_user_v1": None,
        "session_summary_v1": None,
    }
    assert "no values for 'nope' in the store" in as_json.err


def test_status_table_is_whole_without_a_terminal_and_shows_unknowns_as_dashes(
        project: Path, capsys, monkeypatch):
    from signals_batch.project import Project, StatusReport

    monkeypatch.delenv("COLUMNS", raising=False)
    long_name = "ecommerce_user_with_a_rather_long_descriptive_name_v12"
    row = {
        "group": long_name, "type": "batch", "table": f"signals.{long_name}_attributes",
        "last_run": None, "as_of": None, "rows": None, "changed": None,
        "store": "local store x", "watermark": None, "pending": 3, "removals_pending": False,
        "defined": True,
    }
    monkeypatch.setattr(Project, "status_report", lambda self, store_type=None: StatusReport(
        [row], []))
    result = run_cli(capsys, "status", "-p", str(project))  # stdout is not a terminal here
    assert result.code == 0, result.err
    [line] = [line for line in result.out.splitlines() if long_name in line]
    assert "…" not in result.out and "None" not in result.out
    assert [cell.strip() for cell in line.strip("│").split("│")] == [
        long_name, "-", "-", "-", "-", "-", "3"]


def test_a_path_that_cannot_be_written_is_one_line_naming_it(tmp_path: Path, capsys):
    (tmp_path / "a_file").write_text("")
    result = run_cli(capsys, "init", str(tmp_path / "a_file" / "project"))
    assert result.code == 1
    assert result.err.strip().startswith("error: Not a directory: ")
    assert str(tmp_path / "a_file") in result.err and "Traceback" not in result.err


def test_not_a_project_exits_2(tmp_path: Path, capsys):
    for command in ("validate", "generate", "run", "test"):
        result = run_cli(capsys, command, "-p", str(tmp_path))
        assert result.code == 2, command
        assert "is not a signals-batch project (no dbt_project.yml)" in result.err
        assert "Traceback" not in result.err


def test_run_in_a_dbt_project_without_definitions_exits_2_and_writes_nothing(
        tmp_path: Path, capsys):
    (tmp_path / "dbt_project.yml").write_text("name: plain\nversion: '1.0'\nprofile: plain\n")
    result = run_cli(capsys, "run", "-p", str(tmp_path))
    assert result.code == 2
    assert "definitions not found" in result.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dbt_project.yml"]


def test_usage_errors_exit_2(capsys):
    unknown_command = run_cli(capsys, "no-such-command")
    assert unknown_command.code == 2
    assert "No such command 'no-such-command'" in unknown_command.err
    assert "--debug" not in unknown_command.err
    assert run_cli(capsys, "validate", "--no-such-option").code == 2


# --------------------------------------------------------------------------- settings


def write_settings(project: Path, **changes) -> None:
    path = project / "signals_batch.yml"
    settings = yaml.safe_load(path.read_text())
    settings.update(changes)
    path.write_text(yaml.safe_dump(settings))


def test_unknown_setting_exits_2(project: Path, capsys):
    write_settings(project, sourse="atomic.events")
    result = run_cli(capsys, "validate", "-p", str(project))
    assert result.code == 2
    assert "setting 'sourse' (in signals_batch.yml): unknown setting" in result.err
    assert ("known settings: definitions, include_current_day, lookback_window_hours, "
            "signals_api") in result.err


@pytest.mark.parametrize(("section", "known"), [
    ("store", "known settings of store: lock_lease_seconds, path, type, url)"),
    ("signals_api", "known settings of signals_api: auth, backoff_seconds, max_wait_seconds, "
                    "retries, timeout_seconds, token_url, url)"),
])
def test_an_unknown_key_in_a_section_lists_that_sections_keys(project: Path, capsys, section,
                                                              known):
    write_settings(project, **{section: {"pth": "x"}})
    result = run_cli(capsys, "validate", "-p", str(project))
    assert result.code == 2
    assert f"setting '{section}.pth' (in signals_batch.yml): unknown setting" in result.err
    assert known in result.err
    assert "target_schema" not in result.err


def test_bad_source_exits_2(project: Path, capsys):
    write_settings(project, source="events")
    result = run_cli(capsys, "validate", "-p", str(project))
    assert result.code == 2
    assert "setting 'source'" in result.err
    assert "'events' is not [database.]schema.table" in result.err


def test_bad_env_setting_exits_2_naming_the_variable(project: Path, capsys, monkeypatch):
    monkeypatch.setenv("SIGNALS_BATCH_START_DATE", "garbage")
    result = run_cli(capsys, "validate", "-p", str(project))
    assert result.code == 2
    assert "setting 'start_date' (from SIGNALS_BATCH_START_DATE)" in result.err
    assert "'garbage' is not a date" in result.err
    assert "Traceback" not in result.err


def test_a_negative_lookback_window_exits_2_and_the_setting_reaches_dbt(
        project: Path, capsys, monkeypatch):
    assert Project(project).dbt_vars()["signals_lookback_window_hours"] == 6  # the default
    monkeypatch.setenv("SIGNALS_BATCH_LOOKBACK_WINDOW_HOURS", "12")
    assert Project(project).dbt_vars()["signals_lookback_window_hours"] == 12
    monkeypatch.setenv("SIGNALS_BATCH_LOOKBACK_WINDOW_HOURS", "-1")
    result = run_cli(capsys, "validate", "-p", str(project))
    assert result.code == 2
    assert "setting 'lookback_window_hours' (from SIGNALS_BATCH_LOOKBACK_WINDOW_HOURS)" \
        in result.err
    assert "greater than or equal to 0" in result.err


def test_a_nested_setting_that_is_not_json_exits_2_without_its_value(
        project: Path, capsys, monkeypatch):
    monkeypatch.setenv("SIGNALS_BATCH_STORE", "redis://:hunter2@cache:6379")
    result = run_cli(capsys, "validate", "-p", str(project))
    assert result.code == 2, result.err
    assert "setting 'store' (from SIGNALS_BATCH_STORE): not a JSON object" in result.err
    assert "SIGNALS_BATCH_STORE__URL" in result.err
    assert "hunter2" not in result.err and "Traceback" not in result.err


def test_a_warehouse_setting_other_than_the_profile_s_adapter_exits_2(
        project: Path, capsys, monkeypatch):
    """Left out, profiles.yml decides; given (init writes it), it must agree."""
    (project / "profiles.yml").write_text(
        "signals_batch: {target: dev, outputs: {dev: {type: duckdb}}}\n")
    write_settings(project, warehouse="bigquery")
    for command in ("run", "status", "sync"):
        result = run_cli(capsys, command, "-p", str(project))
        assert result.code == 2, (command, result.err)
        assert ("the target uses the dbt adapter 'duckdb', but setting 'warehouse' is "
                "'bigquery' (in signals_batch.yml): make them agree") in result.err
    write_settings(project, warehouse="duckdb")
    monkeypatch.setenv("SIGNALS_BATCH_WAREHOUSE", "snowflake")
    result = run_cli(capsys, "status", "-p", str(project))
    assert result.code == 2 and "'snowflake' (from SIGNALS_BATCH_WAREHOUSE)" in result.err
    monkeypatch.delenv("SIGNALS_BATCH_WAREHOUSE")
    Project(project).check_profile()  # agrees
    settings = yaml.safe_load((project / "signals_batch.yml").read_text())
    del settings["warehouse"]  # no warehouse setting at all
    (project / "signals_batch.yml").write_text(yaml.safe_dump(settings))
    Project(project).check_profile()


def test_a_setting_that_needs_a_mapping_says_so(project: Path, capsys):
    write_settings(project, store="redis")
    result = run_cli(capsys, "validate", "-p", str(project))
    assert result.code == 2
    assert ("setting 'store' (in signals_batch.yml): expected a mapping of its settings, "
            "found str") in result.err


@pytest.mark.parametrize(("profile", "expected"), [
    ("signals_batch: [1\n", "profiles.yml is not valid YAML (line 2, column 1)"),
    ("other: {}\n", "profiles.yml has no profile 'signals_batch' with outputs"),
    ("signals_batch: {target: prod, outputs: {dev: {type: duckdb}}}\n",
     "profiles.yml: profile 'signals_batch' has no target 'prod'"),
    ("signals_batch: {target: dev, outputs: {dev: {type: postgres, host: x}}}\n",
     "the target uses the dbt adapter 'postgres'; signals-batch runs on duckdb, snowflake"),
    ("signals_batch: {target: dev, outputs: {dev: {type: duckdb, threads: many}}}\n",
     "profiles.yml: target 'dev': threads must be a whole number of at least 1"),
    ("signals_batch: {target: dev, outputs: {dev: {type: duckdb, path: 5}}}\n",
     "profiles.yml: target 'dev' is not a valid duckdb profile: 5 is not of type 'string'"),
    ("signals_batch: {target: dev, outputs: {dev: {type: duckdb,\n"
     "  path: \"{{ env_var('NOPE') }}\"}}}\n",
     "Env var required but not provided: 'NOPE'"),
])
def test_a_profile_dbt_cannot_use_exits_2_before_dbt_runs(project: Path, capsys, profile,
                                                          expected):
    (project / "profiles.yml").write_text(profile)
    for command in ("run", "test"):
        result = run_cli(capsys, command, "-p", str(project))
        assert result.code == 2, (command, result.err)
        assert expected in result.err and "Traceback" not in result.err, result.err
        assert len(result.err.strip().splitlines()) == 1, result.err
    assert not (project / "logs" / "dbt.log").exists()  # dbt never started


def test_a_duckdb_path_that_is_not_a_file_exits_2_without_its_token(project: Path, capsys,
                                                                    monkeypatch):
    """MotherDuck (`md:db?motherduck_token=...`) and in-memory paths: signals-batch reads the
    warehouse file itself, so every command that does says so (exit 2) and hides the query
    string, which may hold a token."""
    secret = "MdTok_S3cret"
    monkeypatch.setenv("MD_TOKEN_FOR_TEST", secret)
    (project / "profiles.yml").write_text(
        "signals_batch: {target: dev, outputs: {dev: {type: duckdb,\n"
        "  path: \"md:my_db?motherduck_token={{ env_var('MD_TOKEN_FOR_TEST') }}\"}}}\n")
    for command in ("run", "test", "status", "sync"):
        result = run_cli(capsys, command, "-p", str(project))
        assert result.code == 2, (command, result.err)
        assert "the DuckDB path md:my_db?*** is not a local database file" in result.err
        assert secret not in result.err + result.out
    assert not (project / "logs" / "dbt.log").exists()  # dbt never started


def test_unparsable_settings_file_exits_2(project: Path, capsys):
    (project / "signals_batch.yml").write_text("start_date: 2025-13-01\n")
    result = run_cli(capsys, "validate", "-p", str(project))
    assert result.code == 2
    assert "signals_batch.yml: cannot parse YAML: month must be in 1..12 (a value written " \
        "like a date must be a valid date" in result.err
    (project / "signals_batch.yml").write_text("store: [\n")
    result = run_cli(capsys, "validate", "-p", str(project))
    assert result.code == 2
    assert "signals_batch.yml: cannot parse YAML at line 2, column 1: " in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_a_password_in_the_settings_file_is_refused_and_never_shown(project: Path, capsys,
                                                                   monkeypatch):
    """Secrets come from the environment only: a store url with a password in the (usually
    committed) signals_batch.yml is an input error that names the variable to use; from the
    environment it is accepted, and a repr of the settings hides it."""
    secret = "S3cretPW_xyz"
    for section, url in (("store", f"redis://:{secret}@127.0.0.1:6392/3"),
                         ("store", f"redis://127.0.0.1:6392/3?password={secret}"),
                         ("store", f"http://user:{secret}@store.example/api"),
                         ("signals_api", f"http://apiuser:{secret}@127.0.0.1:8499"),
                         ("signals_api", f"https://api.example/?api_key={secret}")):
        (project / "signals_batch.yml").write_text(
            yaml.safe_dump({section: {"url": url}}))
        result = run_cli(capsys, "status", "-p", str(project))
        assert result.code == 2, result.err
        where = ("the API's credentials come from the environment (signals_api.auth)"
                 if "api_key" in url else f"set the whole url in "
                 f"SIGNALS_BATCH_{section.upper()}__URL")
        assert (f"setting '{section}.url' holds a password or token; secrets are read from "
                f"the environment only: remove it from the file and {where}") in result.err
        assert secret not in result.out + result.err
    (project / "signals_batch.yml").write_text("store: {type: redis}\n")
    monkeypatch.setenv("SIGNALS_BATCH_STORE__URL", f"redis://:{secret}@127.0.0.1:6392/3")
    # the API's base url takes no query (request paths are joined to it), not even from the
    # environment: refused without showing it
    monkeypatch.setenv("SIGNALS_BATCH_SIGNALS_API__URL", f"https://api.example/?token={secret}")
    result = run_cli(capsys, "validate", "-p", str(project))
    assert result.code == 2 and "the API's base URL takes no query string" in result.err
    assert secret not in result.out + result.err
    monkeypatch.setenv("SIGNALS_BATCH_SIGNALS_API__URL", f"https://u:{secret}@api.example/")
    settings = load_settings(project)
    assert settings.store.url == f"redis://:{secret}@127.0.0.1:6392/3"
    for shown in (repr(settings), str(settings), repr(settings.store), str(settings.signals_api)):
        assert secret not in shown
    assert "url='redis://***@127.0.0.1:6392/3'" in repr(settings.store)
    assert "url='https://***@api.example/'" in repr(settings.signals_api)


def test_a_signals_api_url_that_is_not_http_is_an_invalid_setting(project: Path, capsys,
                                                                  monkeypatch):
    """Refused when the settings are read (exit 2), before any row is pushed; not shown."""
    for url in ("127.0.0.1:8400", "notaurl", "ftp://api.example", "https://"):
        monkeypatch.setenv("SIGNALS_BATCH_SIGNALS_API__URL", url)
        result = run_cli(capsys, "sync", "-p", str(project))
        assert result.code == 2, result.err
        assert ("setting 'signals_api.url' (from SIGNALS_BATCH_SIGNALS_API__URL): not an "
                "http:// or https:// URL with a host") in result.err
        if url != "https://":
            assert url not in result.err  # the value itself is not echoed


def test_a_misspelt_setting_variable_gets_a_notice(project: Path, capsys, monkeypatch):
    """A top-level typo cannot be refused (scripts use the prefix for their own variables,
    e.g. SIGNALS_BATCH_AS_OF), but one close to a setting's name is pointed out."""
    monkeypatch.setenv("SIGNALS_BATCH_START_DAT", "2025-01-10")
    monkeypatch.setenv("SIGNALS_BATCH_AS_OF", "2025-01-10")
    result = run_cli(capsys, "validate", "-p", str(project))
    assert result.code == 0, result.err
    assert ("environment variable SIGNALS_BATCH_START_DAT is not a setting and is ignored: "
            "did you mean SIGNALS_BATCH_START_DATE?") in result.err
    assert "SIGNALS_BATCH_AS_OF" not in result.err


def test_environment_wins_over_the_file(project: Path, capsys, monkeypatch):
    other = project / "other_definitions"
    other.mkdir()
    (other / "g.yml").write_text(ONE_GROUP)
    monkeypatch.setenv("SIGNALS_BATCH_DEFINITIONS", "other_definitions")
    monkeypatch.setenv("SIGNALS_BATCH_TARGET_SCHEMA", "from_env")
    monkeypatch.setenv("SIGNALS_BATCH_STORE__TYPE", "redis")
    settings = load_settings(project)
    assert settings.target_schema == "from_env"
    assert settings.store.type == "redis"
    assert settings.store.path == ".signals_batch/profiles.sqlite"  # still from the file
    result = run_cli(capsys, "validate", "-p", str(project))
    assert result.code == 0
    assert result.out.splitlines() == [
        "other_group_v1: batch, key user_id, 1 attributes",
        "1 group(s) valid",
    ]


def test_missing_definitions_exits_2(project: Path, capsys):
    write_settings(project, definitions="nowhere")
    result = run_cli(capsys, "validate", "-p", str(project))
    assert result.code == 2
    assert "definitions not found" in result.err and "nowhere" in result.err


# --------------------------------------------------------------------------- tracebacks


def test_debug_shows_the_traceback_and_keeps_the_exit_code(tmp_path: Path, capsys):
    from signals_batch import cli

    result = run_cli(capsys, "--debug", "validate", "-p", str(tmp_path))
    cli._State.debug = False  # the callback sets it on every call; keep the module tidy
    assert result.code == 2  # invalid input, as without --debug
    assert "Traceback" in result.err and "InvalidInput" in result.err


def test_ctrl_c_exits_130_and_says_interrupted(tmp_path: Path, capsys):
    """Typer turns Ctrl-C into a returned exit code: it must not become a silent 0."""
    with mock.patch("signals_batch.cli._project", side_effect=KeyboardInterrupt):
        result = run_cli(capsys, "validate", "-p", str(make_project(tmp_path / "p")))
    assert result.code == 130
    assert result.err.strip().endswith("interrupted")


def test_ctrl_c_inside_dbt_is_an_interruption_not_an_empty_dbt_failure(tmp_path: Path):
    """dbtRunner returns a Ctrl-C as its result's exception."""
    from dbt.cli.main import dbtRunnerResult

    from signals_batch.runner.dbt import invoke_dbt

    interrupted = dbtRunnerResult(success=False, exception=KeyboardInterrupt())
    with (mock.patch("dbt.cli.main.dbtRunner.invoke", return_value=interrupted),
          pytest.raises(KeyboardInterrupt)):
        invoke_dbt(["run"], tmp_path)


def test_ctrl_c_that_dbt_reports_as_another_error_is_an_interruption(tmp_path: Path):
    """A Ctrl-C while dbt reads its manifest came back as dbt's next error ("Field
    resource_type ... has invalid value 'source'"): a SIGINT during the run is noted."""
    import contextlib
    import signal

    from dbt.cli.main import dbtRunnerResult

    from signals_batch.runner.dbt import invoke_dbt

    def interrupted_then_confused(args):
        with contextlib.suppress(KeyboardInterrupt):  # dbt catches it, then fails on
            signal.raise_signal(signal.SIGINT)  # something else
        return dbtRunnerResult(success=False, exception=RuntimeError("Field resource_type"))

    before = signal.getsignal(signal.SIGINT)
    with (mock.patch("dbt.cli.main.dbtRunner.invoke", side_effect=interrupted_then_confused),
          pytest.raises(KeyboardInterrupt)):
        invoke_dbt(["run"], tmp_path)
    assert signal.getsignal(signal.SIGINT) is before


def test_an_exit_handler_that_hangs_after_ctrl_c_does_not_keep_the_process(tmp_path: Path):
    """After a Ctrl-C the console script ends within its grace period even when an exit
    handler never returns (dbt's worker pool, cut off mid-run, once left multiprocessing's
    waiting for a lock forever)."""
    script = (
        "import atexit, sys, time\n"
        "atexit.register(lambda: time.sleep(1000))\n"
        "from unittest import mock\n"
        "import signals_batch.cli as cli\n"
        "mock.patch('signals_batch.cli._project', side_effect=KeyboardInterrupt).start()\n"
        "cli.INTERRUPTED_EXIT_GRACE = 0.5\n"
        f"sys.argv = ['signals-batch', 'validate', '-p', {str(tmp_path)!r}]\n"
        "cli.console_main()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip().endswith("interrupted")


def test_tracebacks_only_with_debug(tmp_path: Path):
    project = make_project(tmp_path / "p", {"g.yml": "name: [unclosed\n"})
    plain = run_process("validate", "-p", str(project))
    assert plain.code == 2
    assert "Traceback" not in plain.err
    assert plain.err.startswith("error: invalid definitions (1 problem)")
    debug = run_process("--debug", "validate", "-p", str(project))
    assert debug.code != 0
    assert "Traceback" in debug.err
    assert "DefinitionError" in debug.err


def test_a_run_as_of_a_future_date_or_before_start_date_says_so():
    from signals_batch.config import Settings
    from signals_batch.project import as_of_notices

    today = dt.date(2025, 3, 10)
    settings = Settings(start_date=dt.date(2025, 1, 1))
    assert as_of_notices(today, settings, today) == []
    assert as_of_notices(dt.date(2025, 1, 2), settings, today) == []
    (before,) = as_of_notices(dt.date(2025, 1, 1), settings, today)
    assert before == ("as of 2025-01-01 the windows end on 2024-12-31, before start_date "
                      "2025-01-01: no event counts, every table is empty")
    (future,) = as_of_notices(dt.date(2026, 3, 10), settings, today)
    assert future.startswith("as of 2026-03-10 is after today (2025-03-10, UTC): the windows "
                             "end on 2026-03-09")
    current = Settings(start_date=dt.date(2025, 1, 1), include_current_day=True)
    assert as_of_notices(today, current, today) == []
    assert "the windows end on 2025-03-11" in as_of_notices(dt.date(2025, 3, 11), current, today)[0]
