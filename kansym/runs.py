"""Run directories: ``runs/<UTC time>-<target>-<subset>-<hash>/``, the single sink of a run's artifacts.

A run is written into a hidden staging directory and renamed into place when complete, so a run
directory is never half-written and an existing one is never overwritten.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from kansym.errors import KansymError

STAGING_PREFIX = ".partial-"
OWNER_FILE = ".owner-pid"


def pid_alive(pid: int) -> bool:
    """True if a process with this id exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0
    return True


def owner_alive(directory: Path) -> bool:
    """True if the process that created a staging directory is still running."""
    try:
        return pid_alive(int((Path(directory) / OWNER_FILE).read_text().strip()))
    except (OSError, ValueError):
        return False


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, obj) -> None:
    """Strict JSON (NaN and infinities become null), written atomically."""
    text = json.dumps(_finite(obj), indent=2, sort_keys=False, default=_json_default, allow_nan=False)
    write_text_atomic(path, text + "\n")


def _finite(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:
        return _finite(obj.item())
    return obj


def _json_default(o):
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def config_hash(config: dict) -> str:
    """Short hash of a JSON-serialisable config."""
    blob = json.dumps(config, sort_keys=True, default=_json_default).encode()
    return hashlib.sha256(blob).hexdigest()[:8]


def new_run_id(target: str, subset: str, config: dict, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{target}-{subset}-{config_hash(config)}"


@dataclass(frozen=True)
class RunDir:
    """A complete run directory on disk."""

    path: Path

    @property
    def id(self) -> str:
        """The run id; for a run still being written, the id it will have."""
        name = self.path.name
        if name.startswith(STAGING_PREFIX):
            return name[len(STAGING_PREFIX):].rsplit("-", 1)[0]
        return name

    def file(self, name: str) -> Path:
        return self.path / name

    def read_json(self, name: str) -> dict:
        p = self.file(name)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise KansymError(f"run {self.id} has no {name}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise KansymError(f"{p} is not valid JSON: {type(exc).__name__}") from None
        except OSError as exc:
            raise KansymError(f"cannot read {p}: {exc.strerror}") from None
        if not isinstance(data, dict):
            raise KansymError(f"{p} does not hold a JSON object")
        return data

    def read_csv(self, name: str) -> pd.DataFrame:
        p = self.file(name)
        if not p.exists():
            raise KansymError(f"run {self.id} has no {name}")
        return pd.read_csv(p)

    @property
    def config(self) -> dict:
        return self.read_json("config.json")

    @property
    def metrics(self) -> dict:
        return self.read_json("metrics.json")


class StagedRun:
    """Context manager: a staging directory that becomes ``root/run_id`` on success.

    On an exception (including Ctrl-C) the staging directory is kept under a hidden
    ``.partial-*`` name, which is never listed as a run, and ``partial_path`` says where it is.
    """

    def __init__(self, root: Path, run_id: str):
        self.root = Path(root).resolve()
        self.run_id = run_id
        self.final = self.root / run_id
        self.path: Path | None = None

    def __enter__(self) -> Path:
        """Claim the run id with an exclusive mkdir of its staging directory; an id already taken (a run of
        the same configuration started in the same second, or a finished one) becomes ``<id>-2``, ``-3``, ..."""
        self.root.mkdir(parents=True, exist_ok=True)
        for k in range(1, 1000):
            run_id = self.run_id if k == 1 else f"{self.run_id}-{k}"
            if (self.root / run_id).exists():
                continue
            try:
                os.mkdir(self.root / f"{STAGING_PREFIX}{run_id}-s")
            except FileExistsError:
                continue
            self.final, self.path = self.root / run_id, self.root / f"{STAGING_PREFIX}{run_id}-s"
            break
        else:
            raise KansymError(f"no free run id for {self.run_id} under {self.root}")
        (self.path / OWNER_FILE).write_text(str(os.getpid()))  # lets `kansym clean` spare a live run
        return self.path

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            if self.final.exists():
                raise KansymError(f"run directory {self.final} appeared while running; output kept in {self.path}")
            (self.path / OWNER_FILE).unlink(missing_ok=True)
            os.rename(self.path, self.final)
        return False

    def discard(self) -> None:
        if self.path is not None and self.path.exists():
            shutil.rmtree(self.path)


def list_runs(root: Path) -> list[RunDir]:
    """Complete runs under ``root`` (those with a config.json), oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    return [RunDir(p) for p in sorted(root.iterdir())
            if p.is_dir() and not p.name.startswith(".") and (p / "config.json").exists()]


def partial_runs(root: Path) -> list[tuple[Path, bool]]:
    """Staging directories (``.partial-*``) under ``root`` left by crashed or interrupted runs, oldest first,
    each with whether its process is still running (a run being written)."""
    root = Path(root)
    if not root.is_dir():
        return []
    return [(p, owner_alive(p)) for p in sorted(root.iterdir()) if p.is_dir() and p.name.startswith(STAGING_PREFIX)]


def clean_partial(root: Path) -> list[Path]:
    """Remove the ``.partial-*`` directories under ``root`` whose process has ended; return them."""
    removed = []
    for p, alive in partial_runs(root):
        if not alive:
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


def find_run(ref: str, root: Path) -> RunDir:
    """A run by path, by id, or by a unique id prefix or suffix under ``root``."""
    p = Path(ref)
    if p.is_dir():
        if not (p / "config.json").exists():
            raise KansymError(f"{p} is not a kansym run directory (no config.json)")
        return RunDir(p)
    runs = list_runs(root)
    if ref == "latest" and runs:
        return runs[-1]
    hits = [r for r in runs if r.id == ref] or [r for r in runs if r.id.startswith(ref) or r.id.endswith(ref)]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise KansymError(f"no run {ref!r} under {root} (see `kansym runs`)")
    raise KansymError(f"run reference {ref!r} is ambiguous: {', '.join(r.id for r in hits)}")
