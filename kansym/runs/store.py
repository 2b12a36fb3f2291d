"""Run directories: ``runs/<UTC time>-<target>-<subset>-<hash>/``, the single sink of a run's artifacts.

A run is written into a hidden staging directory and renamed into place when complete, so a run
directory is never half-written and an existing one is never overwritten.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from kansym.errors import KansymError
from kansym.safeio import json_default, json_text, parse_json_text, pid_alive, read_text_bounded, signals_deferred

STAGING_PREFIX = ".partial-"
OWNER_FILE = ".owner-pid"


def owner_text(directory: Path) -> str:
    """The process id written in a staging directory's owner file, or 'owner unknown'."""
    try:
        return read_text_bounded(Path(directory) / OWNER_FILE, 100).strip()
    except (OSError, KansymError):
        return "owner unknown"


def owner_alive(directory: Path) -> bool:
    """True if the process that created a staging directory is still running."""
    try:
        return pid_alive(int(owner_text(directory)))
    except ValueError:
        return False


def current_umask() -> int:
    """The process's file-creation mask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _staged(path: Path, text: str | bytes, sync: bool = False) -> str:
    """A complete temporary copy of ``text`` (or bytes) beside ``path`` (its name is returned; removed on
    failure)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~current_umask())  # as open() would: readable by the group where the umask allows
        with (os.fdopen(fd, "wb") if isinstance(text, bytes) else os.fdopen(fd, "w", encoding="utf-8")) as fh:
            fh.write(text)
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def write_text_atomic(path: Path, text: str | bytes) -> None:
    """Write ``text`` (or bytes) to ``path`` through a temporary file and a rename."""
    path = Path(path)
    tmp = _staged(path, text)
    try:
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (its folder created) through a temporary file and a rename."""
    write_text_atomic(path, data)


def check_regular_targets(paths) -> None:
    """Refuse output paths that exist and are not regular files (a folder, a named pipe, a device)."""
    odd = [p for p in map(Path, paths) if p.is_dir() or (p.exists() and not p.is_file())]
    if odd:
        raise KansymError(f"{odd[0]} exists and is not a regular file; nothing was written")


def write_files_together(files: dict[Path, str], exclusive: bool, exists_error: Exception) -> None:
    """Write several files of one directory so that they appear together or not at all: each is staged in a
    temporary file, and only when all are complete are they moved into place. With ``exclusive`` none of the
    names may exist (``exists_error`` is raised, and of two concurrent writers only one gets the names) and a
    failure removes whatever was put in place, so a retry finds nothing."""
    paths = [Path(p) for p in files]
    staged, placed = {}, []
    try:
        for p in paths:
            staged[p] = _staged(p, files[p], sync=True)
        if exclusive and any(p.exists() or p.is_symlink() for p in paths):
            raise exists_error
        check_regular_targets(paths)  # before anything is moved, so no file is replaced without its partner
        with signals_deferred():  # an interrupt lands before the first move or after the last
            for p in paths:
                if exclusive:
                    try:
                        os.link(staged[p], p)  # fails if the name exists: an atomic claim
                    except FileExistsError:
                        raise exists_error from None
                else:
                    os.replace(staged[p], p)
                placed.append(p)
    except BaseException:
        if exclusive:  # the names were free: give them back (an overwrite keeps what it replaced, all complete)
            for p in placed:
                p.unlink(missing_ok=True)
        raise
    finally:
        for tmp in staged.values():
            Path(tmp).unlink(missing_ok=True)


def unwritable_dir(path: Path) -> str | None:
    """Why ``path`` cannot hold output (None if it can): it is not a directory, or it is not writable (an existing
    one must take a temporary file: /proc, a full disk), or it cannot be created because its nearest existing
    ancestor is not a writable directory."""
    path = Path(path).absolute()
    try:
        path.resolve()
    except (RuntimeError, OSError):  # pathlib raises RuntimeError for a symlink loop
        return "is a symbolic-link loop or cannot be resolved"
    try:
        if path.exists() and not path.is_dir():
            return "is not a directory"
        existing = next((a for a in (path, *path.parents) if a.exists()), None)
    except OSError as exc:
        return f"cannot be used ({exc.strerror})"
    if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        return "is not writable" if existing == path else f"cannot be created ({existing} is not a writable directory)"
    if existing == path:  # os.access says yes to root everywhere: a file is made (and removed) to be sure
        try:
            with tempfile.TemporaryFile(dir=path):
                pass
        except OSError as exc:
            return f"cannot hold new files ({exc.strerror or type(exc).__name__})"
    return None


def _is_run(d: Path) -> bool:
    """A finished run directory: one holding config.json and metrics.json."""
    return (d / "config.json").is_file() and (d / "metrics.json").is_file()


def enclosing_run(path: Path) -> Path | None:
    """The run directory (:func:`_is_run`) that ``path`` is or lies inside, or None."""
    try:
        path = Path(path).resolve()
    except (RuntimeError, OSError):
        return None
    return next((d for d in (path, *path.parents) if _is_run(d)), None)


def output_outside_runs(path: Path, option: str, runs_dir: Path | None = None) -> None:
    """Refuse an output directory ``path`` that is, or lies inside, a run, or is the runs directory itself: kansym
    never writes its other outputs into a run (its files are checked against its networks) or among runs."""
    inside = enclosing_run(path)
    if inside is not None:
        raise KansymError(f"{option} {path} lies inside the run {inside.name}; write it outside the runs")
    try:
        same = runs_dir is not None and Path(path).resolve() == Path(runs_dir).resolve()
        held = [d.name for d in Path(path).iterdir() if d.is_dir() and not d.is_symlink() and _is_run(d)] \
            if Path(path).is_dir() else []
    except (RuntimeError, OSError):
        same, held = False, []
    if same:
        raise KansymError(f"{option} {path} is the runs directory; give it a folder of its own")
    if held:
        raise KansymError(f"{option} {path} holds runs ({held[0][:60]}{', ...' if len(held) > 1 else ''}), and kansym "
                          "keeps its other outputs out of folders of runs; give it a folder of its own")


def write_json_atomic(path: Path, obj) -> None:
    """Strict JSON (see :func:`json_text`), written atomically."""
    write_text_atomic(path, json_text(obj) + "\n")


def config_hash(config: dict) -> str:
    """Short hash of a JSON-serialisable config."""
    blob = json.dumps(config, sort_keys=True, default=json_default).encode()
    return hashlib.sha256(blob).hexdigest()[:8]


RUN_ID = re.compile(r"(\d{8}T\d{6}Z-(be|me|residual)-[a-z-]{3,12}-[0-9a-f]{8}|p\d{3,5}-[0-9a-f]{8})(-\d{1,3})?")
"""The ids kansym gives runs: ``<UTC time>-<target>-<subset>-<hash>`` (``-2``, ... where taken) or a sweep point's
``p000-<hash>``."""


SAFE_ID = re.compile(r"[^\x00-\x1f\x7f/\\]{1,200}")
"""A run id a run's files may record: kansym's (:data:`RUN_ID`) or the name of a folder of the user's own that a
stage rerun ran in (printable, without slashes; a run keeps it through renames). It reaches LaTeX only escaped."""


_STAMP = "%Y%m%dT%H%M%SZ"
"""The UTC time a run id starts with."""


def new_run_id(target: str, subset: str, config: dict, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(timezone.utc)).strftime(_STAMP)
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
        """A file of the run; a symbolic link is refused (a run's files are its own, not pointers elsewhere)."""
        p = self.path / name
        if p.is_symlink():
            raise KansymError(f"run {self.id}: {name} is a symbolic link; a run's files must be its own")
        return p

    def read_json(self, name: str) -> dict:
        p = self.file(name)
        try:
            data = parse_json_text(read_text_bounded(p, what="run file"), p)
        except FileNotFoundError:
            raise KansymError(f"run {self.id} has no {name}") from None
        if not isinstance(data, dict):
            raise KansymError(f"{p} does not hold a JSON object")
        return data

    def read_csv(self, name: str) -> pd.DataFrame:
        """A CSV file of the run (a regular file of bounded size; a broken one is an error naming it)."""
        p = self.file(name)
        try:
            text = read_text_bounded(p, what="run file")
        except FileNotFoundError:
            raise KansymError(f"run {self.id} has no {name}") from None
        try:
            return pd.read_csv(io.StringIO(text))
        except (ValueError, pd.errors.ParserError) as exc:
            raise KansymError(f"run {self.id}: {name} is broken ({type(exc).__name__})") from None

    def importance(self) -> pd.DataFrame | None:
        """The run's ``importance.csv`` (feature, importance, std), or None when the run has none."""
        if not self.file("importance.csv").exists():
            return None
        imp = self.read_csv("importance.csv")
        try:
            imp["importance"] = pd.to_numeric(imp["importance"], errors="raise").astype(float)
            if not imp["importance"].map(math.isfinite).all():
                raise ValueError("not finite")
        except (ValueError, TypeError, OverflowError, KeyError):
            raise KansymError(f"run {self.id}: importance.csv is broken (importance is not a number)") from None
        if not {"feature", "importance"} <= set(imp.columns):
            raise KansymError(f"run {self.id}: importance.csv is broken (no feature/importance columns)")
        return imp

    ID_FILES = ("formula.json", "crosscheck.json", "extrapolation.json")
    """The files that record the id the run was written under (``run_id``)."""

    @property
    def recorded_ids(self) -> dict:
        """{file: the run id it records} of :attr:`ID_FILES` the run holds (a value that is not text as None)."""
        out = {}
        for name in self.ID_FILES:
            if self.file(name).exists():
                rid = self.read_json(name).get("run_id")
                out[name] = rid if isinstance(rid, str) else None
        return out

    @property
    def written_id(self) -> str:
        """The id the run was written under, which stage reruns keep: what its files record (the folder may have
        been renamed since), else the folder's name."""
        ids = [i for i in self.recorded_ids.values() if i is not None and SAFE_ID.fullmatch(i)]
        return ids[0] if ids else self.id

    @property
    def config(self) -> dict:
        return self.read_json("config.json")

    @property
    def metrics(self) -> dict:
        return self.read_json("metrics.json")


class StagedRun:
    """Context manager: a staging directory that becomes ``root/run_id`` on success.

    On an exception (including Ctrl-C) the staging directory is kept under a hidden ``.partial-*`` name, which is
    never listed as a run, and ``partial_path`` says where it is; one holding nothing but its owner file is removed.
    """

    def __init__(self, root: Path, run_id: str):
        self.root = Path(root).resolve()
        self.run_id = run_id
        self.final = self.root / run_id
        self.path: Path | None = None

    def __enter__(self) -> Path:
        """Claim the run id with an exclusive mkdir of its staging directory; an id already taken (a run of
        the same configuration started in the same second, or a finished one) becomes ``<id>-2``, ``-3``, ..."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise KansymError(f"cannot create the runs directory {self.root}: {exc.strerror}") from None
        for k in range(1, 1000):
            run_id = self.run_id if k == 1 else f"{self.run_id}-{k}"
            if (self.root / run_id).exists():
                continue
            try:  # the owner file lets `kansym clean` spare a live run
                self.path = claim_dir(self.root / f"{STAGING_PREFIX}{run_id}-s")
            except FileExistsError:
                continue
            self.final = self.root / run_id
            return self.path
        raise KansymError(f"no free run id for {self.run_id} under {self.root}")

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            if self.final.exists():
                raise KansymError(f"run directory {self.final} appeared while running; output kept in {self.path}")
            (self.path / OWNER_FILE).unlink(missing_ok=True)
            os.rename(self.path, self.final)
        elif self.path is not None and {p.name for p in self.path.iterdir()} <= {OWNER_FILE}:
            shutil.rmtree(self.path, ignore_errors=True)  # failed before writing anything: nothing to keep
        return False


class RunUpdate:
    """Context manager for rerunning a stage on a finished run: the run is copied to a hidden
    ``.partial-<id>-u`` directory, the stage writes there, and on success the copy and the run are
    swapped in one atomic step, so readers see the old run or the new one, never a mix.

    On an exception (including Ctrl-C) the run is untouched and the copy is removed. A second update
    of the same run while one is running is refused.
    """

    def __init__(self, run_dir: Path):
        self.run = Path(run_dir).resolve()
        self.path = update_dir(self.run)

    def __enter__(self) -> Path:
        try:
            os.mkdir(self.path)
        except FileExistsError:
            refuse_while_updated(self.run)
            shutil.rmtree(self.path)  # left by an update that was killed
            os.mkdir(self.path)
        except OSError as exc:
            raise KansymError(f"cannot update run {self.run.name}: {exc.strerror} ({self.run.parent})") from None
        try:
            (self.path / OWNER_FILE).write_text(str(os.getpid()))
            shutil.copytree(self.run, self.path, dirs_exist_ok=True, symlinks=True)
        except BaseException:
            shutil.rmtree(self.path, ignore_errors=True)
            raise
        return self.path

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            (self.path / OWNER_FILE).unlink(missing_ok=True)
            swap_directories(self.path, self.run)  # the copy is now the run; the old run is at self.path
        shutil.rmtree(self.path, ignore_errors=True)
        if isinstance(exc, KansymError) and str(self.path) in str(exc):  # name the run, not its removed copy
            raise KansymError(str(exc).replace(str(self.path), str(self.run))) from None
        return False


def update_dir(run_dir: Path) -> Path:
    """The hidden copy :class:`RunUpdate` writes a run's update into (``.partial-<name>-u`` beside it)."""
    return Path(run_dir).parent / f"{STAGING_PREFIX}{Path(run_dir).name}-u"


def refuse_while_updated(run_dir: Path) -> None:
    """A KansymError while another live kansym process updates the run."""
    update = update_dir(run_dir)
    if update.is_dir() and owner_alive(update):
        raise KansymError(f"run {Path(run_dir).name} is being updated by another kansym process "
                          f"({owner_text(update)}); try again when it ends")


RUN_FOLDERS = {"kan": "networks", "figures": "figures"}
"""The folders of a run directory and what they hold."""


def check_own_files(run_dir: Path, doing: str = "") -> None:
    """Nothing in a run but its own files and folders: a symbolic link anywhere in it (a rerun would write through
    it, outside the run) or a named pipe, socket or device is a KansymError (``doing``: what the message starts
    with, e.g. 'cannot update run X')."""
    import stat

    run_dir = Path(run_dir)
    for root, dirs, files in os.walk(run_dir):  # os.walk does not follow links into folders
        for name in dirs + files:
            p = Path(root) / name
            mode = p.lstat().st_mode
            if stat.S_ISLNK(mode):
                raise KansymError(f"{doing or 'run ' + RunDir(run_dir).id}: {p.relative_to(run_dir)} is a symbolic "
                                  "link; a run's files must be its own")
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise KansymError(f"{doing or 'run ' + RunDir(run_dir).id}: {p} is not a file or folder (a named "
                                  "pipe, socket or device: not a regular file); remove it")
    for folder in RUN_FOLDERS:
        if (run_dir / folder).exists() and not (run_dir / folder).is_dir():
            raise KansymError(f"{doing or 'run ' + RunDir(run_dir).id}: {folder} is a file, not the run's folder of "
                              f"{RUN_FOLDERS[folder]}; remove it")


def check_updatable(run_dir: Path) -> None:
    """A run that :class:`RunUpdate` can update, checked before the run's checks: no other kansym process updating
    it, and nothing in it but its own files and folders (:func:`check_own_files`)."""
    refuse_while_updated(Path(run_dir))
    check_own_files(run_dir, f"cannot update run {Path(run_dir).name}")


def swap_directories(a: Path, b: Path) -> None:
    """Exchange two directories atomically (Linux ``renameat2(RENAME_EXCHANGE)``); elsewhere, by two
    renames with the old directory moved aside first."""
    if _rename_exchange(a, b):
        return
    aside = b.parent / f"{STAGING_PREFIX}{b.name}-old"
    shutil.rmtree(aside, ignore_errors=True)
    os.rename(b, aside)
    os.rename(a, b)
    os.rename(aside, a)


def _rename_exchange(a: Path, b: Path) -> bool:
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    if rc == 0:
        return True
    errno = ctypes.get_errno()
    if errno in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: the file system or kernel cannot exchange
        return False
    raise OSError(errno, os.strerror(errno), str(b))


def _runs_root(root: Path) -> Path | None:
    """``root`` if it is a directory, None if nothing is there yet; anything else there is an error."""
    root = Path(root)
    try:
        root.resolve()
    except RuntimeError:  # pathlib's symlink loop
        raise KansymError(f"runs directory {root} is a symbolic-link loop") from None
    if root.is_dir():
        return root
    if root.exists() or root.is_symlink():
        raise KansymError(f"runs directory {root} is not a directory")
    return None


def list_runs(root: Path) -> list[RunDir]:
    """Complete runs under ``root`` (those with a config.json), oldest first."""
    root = _runs_root(root)
    if root is None:
        return []
    return [RunDir(p) for p in sorted(root.iterdir())
            if p.is_dir() and not p.name.startswith(".") and (p / "config.json").exists()]


def partial_runs(root: Path) -> list[tuple[Path, bool]]:
    """Staging directories (``.partial-*``) under ``root`` left by crashed or interrupted runs, oldest first,
    each with whether its process is still running (a run being written)."""
    root = _runs_root(root)
    if root is None:
        return []
    return [(p, owner_alive(p)) for p in sorted(root.iterdir()) if p.is_dir() and p.name.startswith(STAGING_PREFIX)]


def clean_partial(root: Path) -> list[Path]:
    """Remove the ``.partial-*`` directories under ``root`` whose process has ended; return them."""
    removed = []
    for p, alive in partial_runs(root):
        if not alive:
            remove(p)  # a symbolic link named like partial output is removed itself, never followed
            if not p.exists() and not p.is_symlink():
                removed.append(p)
    return removed


def started(run: RunDir) -> float:
    """When a run was started (seconds since the epoch, UTC): the time in the id it was written under (the folder's
    name, else the id its files record), else its config.json's modification time."""
    def stamp(name: str) -> float | None:
        try:
            return datetime.strptime(name[:16], _STAMP).replace(tzinfo=timezone.utc).timestamp()
        except ValueError:  # no time (a name of the user's own, a sweep point) or digits that are no date
            return None

    when = stamp(run.id)
    if when is None:
        try:
            when = stamp(run.written_id)
        except KansymError:  # a file that cannot be read: the folder's time
            pass
    return (run.path / "config.json").stat().st_mtime if when is None else when


def find_run(ref: str, root: Path) -> RunDir:
    """A run by path, by id, or by a unique id prefix or suffix under ``root``; 'latest' is the newest run under
    ``root`` (a folder named latest is given as ./latest)."""
    if not str(ref).strip():
        raise KansymError("the run reference is empty: give a run id, a unique prefix or suffix, a path or 'latest'")
    p = Path(ref)
    if ref != "latest" and p.is_dir():  # 'latest' is the keyword; a folder of that name is ./latest
        if not (p / "config.json").exists():
            raise KansymError(f"{p} is not a kansym run directory (no config.json)")
        return RunDir(p)
    if p.is_absolute() or "/" in str(ref) or "\\" in str(ref):  # a path, not an id
        if p.is_symlink():
            raise KansymError(f"{str(ref)[:200]} is a symbolic link to no directory; give the run directory itself")
        raise KansymError(f"no run directory {str(ref)[:200]} (it does not exist or is not a directory)")
    runs = list_runs(root)
    if ref == "latest" and runs:
        return max(runs, key=started)  # by time, not name: a folder of the user's own naming sorts after the ids
    hits = [r for r in runs if r.id == ref] or [r for r in runs if r.id.startswith(ref) or r.id.endswith(ref)]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise KansymError(f"no run {str(ref)[:200]!r} under {root} (see `kansym runs`)")
    raise KansymError(f"run reference {str(ref)[:200]!r} is ambiguous: {', '.join(r.id for r in hits[:10])}"
                      f"{' ...' if len(hits) > 10 else ''}")


def listed(run: RunDir) -> tuple[dict, dict]:
    """config.json and metrics.json of a run, for a listing: read and parsed, with formula.json's (where there is
    one) parsed too, so that a broken file marks the run corrupt. Their numbers are as recorded, not checked
    against the networks (``kansym show`` checks them)."""
    config, metrics = run.config, run.metrics
    if (run.path / "formula.json").exists() or (run.path / "formula.json").is_symlink():
        run.read_json("formula.json")
    return config, metrics


def gather(root: Path) -> pd.DataFrame:
    """One row per run under ``root`` (config and headline metrics, flattened with dotted names; MeV):
    RMSE of the KAN and of the formula per split, constants, far-extrapolation verdict and deviation.
    A run whose files cannot be read is a row with ``status`` 'corrupt' and the reason."""
    rows = []
    for r in list_runs(root):
        row = {"run_id": r.id, "path": str(r.path)}
        try:
            c, m = listed(r)
        except KansymError as exc:
            rows.append({**row, "status": "corrupt", "error": str(exc)})
            continue
        f = m.get("formula") if isinstance(m.get("formula"), dict) else {}
        far = (f.get("far_check") or {}) if isinstance(f, dict) else {}
        dev = next(iter((far.get("deviation_mev") or {}).values()), {})
        headline = {"kan_rmse_mev": m.get("rmse_mev"), "n_nuclei": m.get("n_nuclei"),
                    "pruned_width": str(m.get("pruned_width")),
                    "formula": {"candidate": f.get("candidate"), "n_constants": f.get("n_constants"),
                                "rmse_mev": f.get("rmse_mev"), "far_passed": far.get("passed"),
                                "far_rms_beyond_mev": dev.get("rms_beyond"),
                                "far_max_abs_beyond_mev": dev.get("max_abs_beyond")}}
        flat = pd.json_normalize({"config": {k: (str(v) if isinstance(v, (list, dict)) else v) for k, v in c.items()
                                             if k not in ("data_sha256", "library_versions")}, **headline}, sep=".")
        rows.append({**row, "status": "ok", **flat.iloc[0].to_dict()})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- the writing primitives
# Every file kansym writes goes through these (``tests/test_layout.py``): the stages compute, and the run writer
# (:mod:`kansym.runs.artifacts`), the registry writer (:mod:`kansym.runs.registry`), sweeps and Table 1 put the
# results on disk with them.

def make_dir(path: Path) -> Path:
    """``path`` as a directory (created with its parents if missing), resolved."""
    path = Path(path).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def remove(path: Path) -> None:
    """Remove a file or a directory tree if it is there."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def csv_text(frame: pd.DataFrame) -> str:
    """A table as the CSV text kansym writes (no index)."""
    return frame.to_csv(index=False)


def write_csv(path: Path, frame: pd.DataFrame) -> None:
    """A table as CSV (no index), written atomically."""
    write_text_atomic(Path(path), csv_text(frame))


def save_figure(fig, path: Path, pdf: bool = True, **savefig) -> None:
    """A matplotlib figure written atomically to ``path`` (its folder created; format from the suffix); a PNG gets
    a vector PDF twin beside it (same name, ``.pdf``) unless ``pdf`` is False."""
    path = Path(path)
    if pdf and path.suffix.lower() == ".png":
        save_figure(fig, path.with_suffix(".pdf"), pdf=False, **{k: v for k, v in savefig.items() if k != "dpi"})
    if path.suffix.lower() == ".pdf":  # no creation date: the same run gives the same bytes
        savefig = {**savefig, "metadata": {"CreationDate": None, **savefig.get("metadata", {})}}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        fig.savefig(tmp, **savefig)
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_pykan(model, prefix: Path) -> None:
    """pykan's checkpoint of ``model`` (``PREFIX_config.yml``, ``PREFIX_state``, ...); call it inside
    :func:`kansym.network.regressor.contained`, which keeps pykan's other files in a scratch directory."""
    model.saveckpt(str(prefix))


def claim_dir(path: Path) -> Path:
    """Create ``path`` exclusively, owned by this process (its owner file names the process); FileExistsError
    if it is there."""
    path = Path(path)
    os.mkdir(path)
    (path / OWNER_FILE).write_text(str(os.getpid()))
    return path


def publish_dir(new: Path, final: Path) -> None:
    """Put the complete directory ``new`` at ``final``; an old one there is swapped out in the same step and ends
    up at ``new``."""
    if final.exists() or final.is_symlink():
        swap_directories(new, final)
    else:
        os.rename(new, final)
