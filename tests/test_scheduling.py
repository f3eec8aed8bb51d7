"""Running from schedulers: the run lock, the cron wrapper with overlapping invocations,
`--log-format json`, one-line summaries, exit codes (never 99), the Airflow extra's import,
dbt's log file, and a DuckDB file held open by another process."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from cli_helpers import make_project, run_cli
from sample_project import make_sample_project, store_counts, table_counts

from signals_batch import cli
from signals_batch.errors import SignalsBatchError
from signals_batch.project import RUN_LOCK, STATE_DIR, Project, RunLocked, run_lock

REPO = Path(__file__).resolve().parent.parent
WRAPPER = REPO / "examples" / "signals-batch-nightly.sh"

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


def _env(**extra: str) -> dict[str, str]:
    """The environment of a child process running this checkout's signals-batch."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNALS_BATCH_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["COLUMNS"] = "200"
    env.update(extra)
    return env


# --------------------------------------------------------------------------- run lock


def test_a_second_run_waits_for_the_lock_then_fails_clearly(tmp_path, capsys):
    project_dir = make_project(tmp_path / "proj", {"g.yml": ONE_GROUP})
    lock = project_dir / STATE_DIR / RUN_LOCK
    with run_lock(lock, timeout=0):
        started = time.monotonic()
        with pytest.raises(RunLocked) as raised:
            Project(project_dir).run(lock_timeout=0.5)
        assert time.monotonic() - started >= 0.45
        message = str(raised.value)
        assert "another signals-batch run is using" in message
        assert f"pid {os.getpid()}" in message and "waited 0.5s" in message

        result = run_cli(capsys, "run", "-p", str(project_dir), "--lock-timeout", "0.2")
        assert result.code == 1
        assert result.err.startswith("error: another signals-batch run is using")
        assert len(result.err.strip().splitlines()) == 1

        # `test` takes the same lock: no dbt test while a run writes the tables
        Project(project_dir).generate()
        with pytest.raises(RunLocked):
            Project(project_dir).test(lock_timeout=0)


def test_the_run_lock_is_taken_as_soon_as_the_holder_releases_it(tmp_path):
    lock = tmp_path / STATE_DIR / RUN_LOCK
    held = threading.Event()

    def hold() -> None:
        with run_lock(lock, timeout=0):
            held.set()
            time.sleep(0.6)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(5)
    started = time.monotonic()
    with run_lock(lock, timeout=30):
        waited = time.monotonic() - started
    holder.join()
    assert 0.3 <= waited < 10


def test_the_run_lock_dies_with_its_holder(tmp_path):
    lock = tmp_path / STATE_DIR / RUN_LOCK
    code = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from signals_batch.project import run_lock
        with run_lock(Path({str(lock)!r}), timeout=0):
            print("locked", flush=True)
            time.sleep(60)
        """
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=_env()
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunLocked, match=f"pid {holder.pid}"), run_lock(lock, timeout=0.2):
            pass
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        with run_lock(lock, timeout=5):
            pass
    finally:
        holder.kill()
        holder.wait()


# --------------------------------------------------------------------------- logs, exit codes


def _json_lines(text: str) -> list[dict]:
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    for record in records:
        assert isinstance(record["level"], str) and isinstance(record["message"], str), record
        assert "time" in record
    return records


# --------------------------------------------------------------------------- dbt and DuckDB


@pytest.mark.dbt
def test_dbt_writes_its_log_file_and_sends_no_usage_stats(tmp_path, capsys):
    """logs/dbt.log keeps dbt's details (the console stays ours); the scaffold's dbt_project.yml
    turns off dbt's anonymous usage events, so a run makes no call home."""
    project = tmp_path / "proj"
    assert run_cli(capsys, "init", str(project)).code == 0
    result = run_cli(capsys, "run", "-p", str(project))  # no events table yet: fails in dbt
    assert result.code == 2 and "source table atomic.events" in result.err
    log = (project / "logs" / "dbt.log").read_text()
    assert "source table atomic.events" in log
    assert "'send_anonymous_usage_stats': 'False'" in log


@pytest.mark.dbt
def test_a_duckdb_file_held_by_another_process_is_one_clear_error(tmp_path, capsys):
    """DuckDB lets one process write a file: while another one (a shell, a notebook) has the
    warehouse open, run / sync / status say so, with that process, and exit 1."""
    project = make_sample_project(tmp_path / "proj")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time\n"
         f"con = duckdb.connect({str(project / 'warehouse.duckdb')!r})\n"
         "print('ready', flush=True)\ntime.sleep(120)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        for command in (["run"], ["sync"], ["status"]):
            result = run_cli(capsys, *command, "-p", str(project))
            assert result.code == 1, (command, result.err)
            assert "warehouse.duckdb is open in another process" in result.err, result.err
            assert f"PID {holder.pid}" in result.err and "close that connection" in result.err
            assert "Traceback" not in result.err and len(result.err.strip().splitlines()) == 1
    finally:
        holder.kill()
        holder.wait()
    assert run_cli(capsys, "run", "-p", str(project)).code == 0  # free again: it runs


def test_log_format_json_writes_one_json_object_per_line(tmp_path, capsys):
    project_dir = tmp_path / "proj"
    assert run_cli(capsys, "--log-format", "json", "init", str(project_dir)).code == 0

    result = run_cli(capsys, "--log-format", "json", "generate", "-p", str(project_dir))
    assert result.code == 0, result.err
    records = _json_lines(result.err)
    assert records and all(r["level"] == "info" for r in records)
    assert any(r["message"].startswith("wrote ") for r in records)

    quiet = run_cli(capsys, "--log-format", "json", "--quiet", "generate", "-p", str(project_dir))
    assert quiet.code == 0 and quiet.err == ""

    (project_dir / "definitions" / "bad.yml").write_text("name: [not, a, name]\n")
    invalid = run_cli(capsys, "--log-format", "json", "validate", "-p", str(project_dir))
    assert invalid.code == 2
    (error,) = _json_lines(invalid.err)
    assert error["level"] == "error" and error["exit_code"] == 2

    usage = run_cli(capsys, "--log-format", "json", "run", "--no-such-option")
    assert usage.code == 2
    assert _json_lines(usage.err)[-1]["level"] == "error"

    missing = run_cli(capsys, "--log-format", "json", "run", "-p", str(tmp_path / "nowhere"))
    assert missing.code == 2
    (error,) = _json_lines(missing.err)
    assert "not a signals-batch project" in error["message"]

    # text mode again in the same process: plain lines
    text = run_cli(capsys, "generate", "-p", str(tmp_path / "nowhere"))
    assert text.err.startswith("error: ")


def test_exit_codes_are_never_99(tmp_path, capsys, monkeypatch):
    """99 is Airflow's "skip this task" for a BashOperator: a failure must never look like it."""

    class Odd(SignalsBatchError):
        exit_code = 99

    project_dir = make_project(tmp_path / "proj", {"g.yml": ONE_GROUP})

    def fail(*args, **kwargs):
        raise Odd("a failure with an odd code")

    monkeypatch.setattr(Project, "run", fail)
    result = run_cli(capsys, "run", "-p", str(project_dir))
    assert result.code == 1
    assert "a failure with an odd code" in result.err

    with pytest.raises(SystemExit) as done:
        cli._exit(99)
    assert done.value.code == 1

    codes = {
        run_cli(capsys, *args).code
        for args in (
            ["run", "-p", str(project_dir)],
            ["run", "--as-of", "tomorrow", "-p", str(project_dir)],
            ["run", "--bogus"],
            ["nope"],
            ["validate", "-p", str(tmp_path / "nowhere")],
            ["sync", "-p", str(project_dir)],
            ["--log-format", "xml", "status"],
        )
    }
    assert 99 not in codes and codes <= {1, 2}


def test_the_airflow_module_without_airflow_says_how_to_install_it():
    code = "import sys; sys.modules['airflow'] = None; import signals_batch.integrations.airflow"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=60
    )
    assert done.returncode == 1
    assert "pip install -e '.[airflow]' in the signals-batch checkout" in done.stderr


# --------------------------------------------------------------------------- cron wrapper


def _lock_is_held(path: Path) -> bool:
    if not path.exists():
        return False
    handle = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(handle)  # (releases it at once when this probe got it)
    return False


@pytest.mark.dbt
def test_cron_wrapper_with_overlapping_invocations(tmp_path):
    """A runs run+sync; B starts while A holds the lock and skips at once (exit 0); C starts
    then too, waits for A, then runs itself. All exit 0 and the store equals the tables."""
    project_dir = make_sample_project(tmp_path / "proj")
    shims = tmp_path / "bin"
    shims.mkdir()
    shim = shims / "signals-batch"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m signals_batch.cli "$@"\n')
    shim.chmod(0o755)
    env = _env(PATH=f"{shims}{os.pathsep}{os.environ['PATH']}")

    def start(wait: float, *options: str) -> subprocess.Popen:
        return subprocess.Popen(
            ["bash", str(WRAPPER), str(project_dir), *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**env, "SIGNALS_BATCH_NIGHTLY_WAIT": str(wait)},
        )

    nightly_lock = project_dir / STATE_DIR / "nightly.lock"
    first = start(120, "--log-format", "json")
    deadline = time.monotonic() + 60
    while not _lock_is_held(nightly_lock):
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "the first invocation never took the lock"
        time.sleep(0.05)

    skipped = start(0, "--log-format", "json")
    waiting = start(600)
    out, err = skipped.communicate(timeout=60)
    assert skipped.returncode == 0, err
    assert first.poll() is None, "the first invocation should still be running"
    (record,) = _json_lines(err)
    assert record["level"] == "warning" and "still going" in record["message"]
    assert out == ""

    first_out, first_err = first.communicate(timeout=600)
    assert first.returncode == 0, first_err
    records = _json_lines(first_err)  # every stderr line of a run + sync is a JSON object
    summaries = [r for r in records if r.get("event") == "summary"]
    assert [s["message"].split(":")[0] for s in summaries] == ["run ok", "sync ok"]
    assert any(r.get("event") == "progress" for r in records)
    assert "run ok: as of" in first_out and "sync ok:" in first_out

    waiting_out, waiting_err = waiting.communicate(timeout=600)
    assert waiting.returncode == 0, waiting_err
    # it ran after the first one: nothing new to compute, nothing new to send
    run_line = next(line for line in waiting_out.splitlines() if line.startswith("run ok:"))
    assert ", 0 new events," in run_line and ", 0 changed," in run_line
    sync_line = next(line for line in waiting_out.splitlines() if line.startswith("sync ok:"))
    assert ", 0 rows sent," in sync_line

    tables = table_counts(project_dir)
    assert tables and all(count > 0 for count in tables.values())
    assert store_counts(project_dir, list(tables)) == tables
    status = Project(project_dir).status()
    assert {row["group"]: row["pending"] for row in status} == {g: 0 for g in tables}


# --------------------------------------------------------------------------- CI example


@pytest.mark.dbt
def test_the_example_ci_workflow_passes_on_a_new_project(tmp_path):
    """The `run:` steps of examples/ci.yml, in order, on a fresh `init` project (the generated
    files committed, git-ignored ones absent, as in a fresh checkout); a stale model fails it."""
    import yaml

    workflow = yaml.safe_load((REPO / "examples" / "ci.yml").read_text())
    (job,) = workflow["jobs"].values()
    steps = [s for s in job["steps"] if "run" in s and "pip install" not in s["run"]]
    assert [s["name"].split(" ")[0] for s in steps] == [
        "Validate",
        "Generated",
        "Sample",
        "Run",
        "dbt",
    ]

    project_dir = tmp_path / "repo"
    assert (
        subprocess.run(
            [sys.executable, "-m", "signals_batch.cli", "init", str(project_dir)],
            env=_env(),
            capture_output=True,
        ).returncode
        == 0
    )
    assert (
        subprocess.run(
            [sys.executable, "-m", "signals_batch.cli", "generate", "-p", str(project_dir)],
            env=_env(),
            capture_output=True,
        ).returncode
        == 0
    )
    import shutil

    shutil.rmtree(project_dir / "dbt_packages")  # git-ignored: not in a fresh checkout

    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / "signals-batch").write_text(
        f'#!/bin/sh\nexec "{sys.executable}" -m signals_batch.cli "$@"\n'
    )
    (shims / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    for shim in shims.iterdir():
        shim.chmod(0o755)
    env = _env(PATH=f"{shims}{os.pathsep}{os.environ['PATH']}", **job["env"])

    def step(script: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=project_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    for s in steps:
        done = step(s["run"])
        assert done.returncode == 0, (s["name"], done.stdout[-2000:], done.stderr[-2000:])
        if s["name"].startswith("dbt"):
            passed = int(done.stdout.split()[0])
            assert passed > 0, done.stdout

    # a definition changed without regenerating: the freshness step fails
    example = project_dir / "definitions" / "example.yml"
    example.write_text(example.read_text().replace("period: P7D", "period: P14D", 1))
    stale = step(steps[1]["run"])
    assert stale.returncode == 1 and "stale" in stale.stderr
