"""Definitions -> the files of one dbt project (pure; writing is separate)."""

from signals_batch.compiler.project import (
    CompiledProject,
    compile_project,
    stale_files,
    write_project,
)

__all__ = ["CompiledProject", "compile_project", "stale_files", "write_project"]
