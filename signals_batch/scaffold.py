"""`signals-batch init`: a new project folder (dbt project, profile, settings, examples)."""

from __future__ import annotations

from pathlib import Path

from signals_batch.errors import InvalidInput

SCAFFOLD = Path(__file__).resolve().parent / "scaffold"
SUPPORTED_WAREHOUSES = ("duckdb", "snowflake", "bigquery")


def init_project(
    directory: Path | str,
    warehouse: str = "duckdb",
    start_date: str = "2025-01-01",
    examples: bool = True,
) -> list[Path]:
    """Create the project files in `directory`; refuse to overwrite an existing project."""
    target = Path(directory)
    if warehouse not in SUPPORTED_WAREHOUSES:
        raise InvalidInput(
            f"warehouse {warehouse!r} is not supported yet; supported: "
            f"{', '.join(SUPPORTED_WAREHOUSES)}"
        )
    existing = [n for n in ("dbt_project.yml", "signals_batch.yml") if (target / n).exists()]
    if existing:
        raise InvalidInput(f"{target} already holds {', '.join(existing)}: choose a new folder")
    files = {
        "dbt_project.yml": (SCAFFOLD / "dbt_project.yml").read_text(),
        "profiles.yml": (SCAFFOLD / f"profiles_{warehouse}.yml").read_text(),
        "signals_batch.yml": (SCAFFOLD / "signals_batch.yml")
        .read_text()
        .replace("__WAREHOUSE__", warehouse)
        .replace("__START_DATE__", start_date),
        ".gitignore": (SCAFFOLD / "gitignore").read_text(),
    }
    if examples:
        files["definitions/example.yml"] = (SCAFFOLD / "definitions.yml").read_text()
    written = []
    for name, text in files.items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    (target / "models").mkdir(exist_ok=True)
    (target / "macros").mkdir(exist_ok=True)
    return written
