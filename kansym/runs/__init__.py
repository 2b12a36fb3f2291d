"""Everything kansym writes: the run store (run directories staged and renamed into place, stage updates swapped
in, the writing primitives every file goes through), the run writer (networks, figures), the formula registry's
writer, and old formats read as the current one."""

from kansym.runs.artifacts import save_figures, save_network
from kansym.runs.migrate import checkpoint_meta, config_record
from kansym.runs.registry import write_formula
from kansym.runs.store import (
    RunDir,
    RunUpdate,
    StagedRun,
    clean_partial,
    find_run,
    gather,
    list_runs,
    partial_runs,
    save_figure,
    write_csv,
    write_files_together,
    write_json_atomic,
    write_text_atomic,
)

__all__ = [
    "RunDir", "RunUpdate", "StagedRun", "checkpoint_meta", "clean_partial", "config_record", "find_run", "gather",
    "list_runs", "partial_runs", "save_figure", "save_figures", "save_network", "write_csv", "write_files_together",
    "write_formula", "write_json_atomic", "write_text_atomic",
]
