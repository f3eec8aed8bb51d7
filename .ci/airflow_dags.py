"""Import every DAG file of a folder (default: examples/) with real Apache Airflow's DagBag.

Exit 1 on any import error, or when no DAG is found. Run by .ci/run in its Airflow virtualenv,
with AIRFLOW_HOME in a temporary folder (no database is needed to parse DAG files).
"""

from __future__ import annotations

import sys
from pathlib import Path

import airflow

try:
    from airflow.models import DagBag
except ImportError:  # pragma: no cover - newer layouts
    from airflow.dag_processing.dagbag import DagBag


def main() -> int:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "examples").resolve()
    try:
        bag = DagBag(dag_folder=str(folder), include_examples=False)
    except TypeError:  # Airflow 3.2+: examples are a setting (AIRFLOW__CORE__LOAD_EXAMPLES)
        bag = DagBag(dag_folder=str(folder))
    for path, error in sorted(bag.import_errors.items()):
        print(f"import error in {path}:\n{error}", file=sys.stderr)
    for path, warnings in sorted(getattr(bag, "captured_warnings", {}).items()):
        for warning in warnings:
            print(f"warning in {path}: {warning}", file=sys.stderr)
    if bag.import_errors:
        return 1
    if not bag.dags:
        print(f"no DAG found in {folder}", file=sys.stderr)
        return 1
    for dag_id, dag in sorted(bag.dags.items()):
        print(f"{dag_id}: {len(dag.tasks)} tasks ({', '.join(sorted(dag.task_ids))})")
    print(
        f"{len(bag.dags)} DAG(s) in {folder.name}/ imported by Apache Airflow "
        f"{airflow.__version__} with no import errors"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
