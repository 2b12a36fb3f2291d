"""The run store: run directories written atomically (staged, then renamed), stage updates swapped in, bounded readers of run files, strict JSON."""

from kansym.runs.migrate import checkpoint_meta, config_record
from kansym.runs.store import (
    RunDir,
    RunUpdate,
    StagedRun,
    clean_partial,
    find_run,
    gather,
    json_text,
    list_runs,
    parse_json_text,
    partial_runs,
    read_text_bounded,
    write_files_together,
    write_json_atomic,
    write_text_atomic,
)

__all__ = [
    "checkpoint_meta", "config_record",
    "RunDir", "RunUpdate", "StagedRun", "clean_partial", "find_run", "gather", "json_text", "list_runs",
    "parse_json_text", "partial_runs", "read_text_bounded", "write_files_together", "write_json_atomic",
    "write_text_atomic",
]
