#!/usr/bin/env bash
# signals-batch every night: `signals-batch run && signals-batch sync`, one at a time.
#
#   signals-batch-nightly.sh PROJECT_DIR [GLOBAL OPTIONS...]
#   e.g. signals-batch-nightly.sh /srv/signals/my_project --log-format json
#
# GLOBAL OPTIONS (--log-format json, --quiet, --debug) go to both commands. The exit code is
# the failing command's (1 failure, 2 invalid input), else 0; sync does not run after a
# failed run.
#
# Safe when the previous invocation is still going: an flock on PROJECT_DIR/.signals_batch/
# nightly.lock lets one invocation in at a time. Another one waits up to
# $SIGNALS_BATCH_NIGHTLY_WAIT seconds (default 0), then prints that it skipped and exits 0:
# the running one brings the tables and the store up to date, and the next night catches up.
# Without flock(1) (util-linux; macOS lacks it) the commands' own locks still keep it safe:
# a second `run` waits --lock-timeout (60s) for the first, then fails with exit 1.
#
# $SIGNALS_BATCH_BIN: the command to call (default: signals-batch on PATH, e.g. the one in
# your virtualenv: /srv/signals/venv/bin/signals-batch). $SIGNALS_BATCH_ENV_FILE: a file of
# VAR=value lines to load first (secrets such as SIGNALS_SANDBOX_TOKEN; keep it chmod 600).
set -uo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 PROJECT_DIR [GLOBAL OPTIONS...]" >&2
  exit 2
fi
project_dir=$1
shift
bin=${SIGNALS_BATCH_BIN:-signals-batch}
wait_seconds=${SIGNALS_BATCH_NIGHTLY_WAIT:-0}

json=false
previous=""
for arg in "$@"; do
  if [ "$arg" = "--log-format=json" ] || { [ "$previous" = "--log-format" ] && [ "$arg" = "json" ]; }; then
    json=true
  fi
  previous=$arg
done

say() {  # one line on stderr, a JSON one with --log-format json
  if $json; then
    local message=${2//\\/\\\\}
    message=${message//\"/\\\"}
    printf '{"time": "%s", "level": "%s", "message": "%s"}\n' \
      "$(date -u +%Y-%m-%dT%H:%M:%S.000+00:00)" "$1" "$message" >&2
  else
    echo "signals-batch-nightly: $2" >&2
  fi
}

if [ -n "${SIGNALS_BATCH_ENV_FILE:-}" ]; then
  set -a
  # shellcheck disable=SC1090
  . "$SIGNALS_BATCH_ENV_FILE" || { say error "cannot read $SIGNALS_BATCH_ENV_FILE"; exit 2; }
  set +a
fi

if [ ! -d "$project_dir" ]; then
  say error "$project_dir is not a folder"
  exit 2
fi

if command -v flock >/dev/null 2>&1; then
  mkdir -p "$project_dir/.signals_batch"
  exec 9>>"$project_dir/.signals_batch/nightly.lock"
  if ! flock -w "$wait_seconds" 9; then
    say warning "skipped: the previous nightly run of $project_dir is still going (waited ${wait_seconds}s)"
    exit 0
  fi
fi

"$bin" "$@" run --project-dir "$project_dir" || exit $?
"$bin" "$@" sync --project-dir "$project_dir"
