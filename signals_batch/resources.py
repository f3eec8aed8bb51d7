"""Where the package's dbt templates and macros are, installed or in a checkout."""

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    # A wheel ships them inside the package; an editable install reads the repo's top level.
    for candidate in (_PACKAGE / "_dbt" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"signals-batch is installed without its {name}/ folder")


def templates_dir() -> Path:
    return _find("dbt_templates")


def macros_dir() -> Path:
    return _find("macros")
