"""Shared helpers for the benchmarks: run from the repository root, e.g. ``python bench/kan_ws4.py``."""

import os
import platform
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from kansym.pipeline.config import library_versions
from kansym.safeio import json_text

RESULTS = Path(__file__).resolve().parent / "results"


def scratch_runs() -> str:
    """A temporary runs directory, so benchmarks never fill ``runs/``."""
    return tempfile.mkdtemp(prefix="kansym-bench-")


def write_result(name: str, result: dict) -> Path:
    """Print ``result`` and write it to bench/results/NAME.json with the machine description."""
    result = {"benchmark": name, "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "libraries": library_versions()}, **result}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    text = json_text(result)  # strict JSON: non-finite numbers as "NaN"/"Infinity", like the run files
    path.write_text(text + "\n")
    print(text)
    return path
