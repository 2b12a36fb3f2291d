"""Sweeps: ``discover`` over the cartesian product of option grids, one run directory per point.

A sweep lives in ``<runs_dir>/sweep-<hash>/`` (the hash of its grids and fixed options), each point in
``p<k>-<config hash>/`` and nowhere else: a point is finished when that directory holds a readable
``config.json`` and ``metrics.json``. Rerunning the same sweep skips the finished points and redoes the
others in place: each is computed in a hidden ``.partial-<point>-p/`` scratch directory and moved to its
name only when complete (swapped with an unreadable old copy in one step), so a finished point is never
lost or half-overwritten. Points are independent tasks for :mod:`kansym.network.execution` (each point's own
ensemble then trains in its worker, one process).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd

from kansym.report import figures as figs
from kansym.pipeline.config import DiscoverConfig, run_config
from kansym.errors import KansymError
from kansym.metrics import pareto_mask
from kansym.network.execution import Execution, run_tasks
from kansym.pipeline.discovery import discover
from kansym.pipeline.registry import check_run
from kansym.runs.store import (
    STAGING_PREFIX,
    RunDir,
    claim_dir,
    config_hash,
    gather,
    make_dir,
    owner_alive,
    owner_text,
    publish_dir,
    remove,
    save_figure,
    write_csv,
    write_json_atomic,
)

TUPLE_FIELDS = {"width", "refine", "chains"}
MAX_POINTS = 1000
"""Most points a sweep may have (the product of its grids' lengths), checked before any fit."""
SCRATCH_SUFFIX = "-p"
"""A point is computed in ``<sweep>/.partial-<point>-p/`` and moved into place when complete."""


def ascii_only(what: str, text: str) -> str:
    """``text`` if it is plain ASCII, else a KansymError naming the first other character (Python's int() and
    float() would read Arabic-Indic or fullwidth digits silently)."""
    bad = next((ch for ch in text if not ch.isascii()), None)
    if bad is not None:
        kind = "digit" if bad.isdigit() else "character"
        raise KansymError(f"{what} {text[:60]!r}: non-ASCII {kind} {bad!r} (U+{ord(bad):04X}); "
                          "write values with ASCII characters (digits 0-9)")
    return text


def parse_value(name: str, text: str):
    """A DiscoverConfig value from text, typed like the field's default ('none' is None)."""
    known = {f.name: f for f in fields(DiscoverConfig) if f.name not in ("runs_dir",)}  # the sweep places its runs
    if name not in known:
        raise KansymError(f"unknown sweep option {name!r}; options are DiscoverConfig fields such as "
                          "seed, width, lamb, steps, grid, lib, features, max_constants")
    text = ascii_only(f"sweep option {name}:", text).strip()
    if text.lower() == "none" and name not in ("crosscheck", "baseline", "split", "lib"):  # 'none' is a choice there
        return None
    kind = str(known[name].type).split("|")[0].strip()  # the field's annotation: 'bool | None' -> 'bool'
    try:
        if name in TUPLE_FIELDS:
            parts = [t for t in text.replace("/", ",").split(",") if t]
            return tuple(int(t) for t in parts) if name != "chains" else tuple(parts)
        if kind == "bool":
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            return text.lower() == "true"
        if kind == "int":
            return int(text)
        if kind == "float":
            value = float(text)
            if not math.isfinite(value) or (name == "max_unc" and not value > 0):  # -1 is the default's marker
                raise ValueError(text)
            return value
    except ValueError:
        raise KansymError(f"sweep option {name}: {text!r} is not a valid value") from None
    return text


def parse_flag(name: str) -> tuple[str, bool] | None:
    """(field, value) of a switch given without a value, as discover takes it (``expand`` -> True, ``no_prune`` ->
    False); None when ``name`` is no true-or-false option."""
    bools = {f.name for f in fields(DiscoverConfig) if str(f.type).split("|")[0].strip() == "bool"}
    if name in bools:
        return name, True
    if name.startswith("no_") and name[3:] in bools:
        return name[3:], False
    return None


def parse_grid(spec: str) -> tuple[str, list]:
    """'seed=0:5' (integers 0..4), 'width=5;10' or 'lamb=1e-3,3e-3' -> (field, values). For tuple options
    (width, refine, chains) points are separated by ';' and a point's items by ',' or '/'. ASCII only; at most
    :data:`MAX_POINTS` values, none repeated."""
    ascii_only("--grid", spec)
    if "=" not in spec:
        raise KansymError(f"--grid {spec!r} must read NAME=VALUES, e.g. seed=0:5 or lamb=1e-3,3e-3 (in a sweep --grid "
                          "names the option grid; the spline grid of every point is --grid grid=3)")
    name, values = (t.strip() for t in spec.split("=", 1))
    name = name.replace("-", "_")
    if ":" in values and name not in TUPLE_FIELDS and name not in ("split", "lib"):
        lo, hi = values.split(":", 1)
        try:
            lo, hi = int(lo), int(hi)
        except ValueError:
            raise KansymError(f"--grid {spec!r}: a range reads START:STOP with integers") from None
        _check_size(f"--grid {spec[:60]!r}", hi - lo)  # before the range is built
        points = [str(v) for v in range(lo, hi)]
    else:
        points = values.split(";" if name in TUPLE_FIELDS else ",")
        if not all(v.strip() for v in points):
            raise KansymError(f"--grid {spec[:60]!r} has an empty value")
        _check_size(f"--grid {spec[:60]!r}", len(points))
    if not points:
        raise KansymError(f"--grid {spec!r} has no values")
    parsed = [parse_value(name, v) for v in points]
    repeated = next((v for k, v in enumerate(parsed) if v in parsed[:k]), None)
    if repeated is not None:
        raise KansymError(f"--grid {spec[:60]!r} repeats the value {repeated!r}")
    return name, parsed


def _check_size(what: str, n: int) -> None:
    if n > MAX_POINTS:
        raise KansymError(f"{what} has {n} points; a sweep has at most {MAX_POINTS}")


@dataclass(frozen=True)
class Sweep:
    """The points of a sweep: resolved configurations and their folder names under ``root``."""

    root: Path
    grid: dict
    points: tuple[tuple[str, DiscoverConfig], ...]


def plan(base: DiscoverConfig, grids: dict[str, list], runs_dir: Path) -> Sweep:
    """Every combination of ``grids`` on top of ``base``, each resolved (so an invalid value fails before
    any fit), in a folder named by the sweep's hash."""
    if not grids:
        raise KansymError("a sweep needs at least one --grid NAME=VALUES")
    if not all(grids.values()):
        raise KansymError(f"--grid {next(k for k, v in grids.items() if not v)} has no values")
    _check_size(f"the grid {' x '.join(str(len(v)) for v in grids.values())}", math.prod(map(len, grids.values())))
    names = list(grids)
    spec = {"base": base.to_dict(), "grid": {k: [list(v) if isinstance(v, tuple) else v for v in vals]
                                             for k, vals in grids.items()}}
    spec["base"].pop("runs_dir", None)
    root = Path(runs_dir) / f"sweep-{config_hash(spec)}"
    points = []
    for k, combo in enumerate(itertools.product(*(grids[n] for n in names))):
        cfg = replace(base, **dict(zip(names, combo)), runs_dir=str(root)).resolved()
        science = {key: v for key, v in cfg.to_dict().items() if key != "runs_dir"}  # where it is written: no part
        points.append((f"p{k:03d}-{config_hash(science)}", cfg))
    return Sweep(root, dict(grids), tuple(points))


def scratch_dir(root: Path, name: str) -> Path:
    """Where point ``name`` of the sweep in ``root`` is computed before it is moved into place."""
    return Path(root) / f"{STAGING_PREFIX}{name}{SCRATCH_SUFFIX}"


def _leftovers(root: Path, name: str) -> list[Path]:
    """The point's scratch directory and (from older versions) its staging directory, where present."""
    return [d for d in (scratch_dir(root, name), Path(root) / f"{STAGING_PREFIX}{name}-s") if d.is_dir()]


def _busy(directory: Path) -> str:
    return f"being run by another kansym process ({owner_text(directory)[:20]})"


def point_state(root: Path, name: str) -> tuple[str, str]:
    """('done', '') for a finished point (readable config.json and metrics.json), ('running', why) while
    another live process computes it, else ('todo', why it is not finished)."""
    run = RunDir(Path(root) / name)
    if run.path.exists():
        try:
            run.config, run.metrics  # both must read as JSON objects
            return "done", ""
        except KansymError as exc:
            why = str(exc)
    else:
        why = "not run"
    for d in _leftovers(root, name):
        if owner_alive(d):
            return "running", _busy(d)
        why = "interrupted"
    return "todo", why


def clear_leftovers(root: Path, name: str) -> None:
    """Remove what an interrupted run of the point left (directories whose process has ended)."""
    for d in _leftovers(root, name):
        if not owner_alive(d):
            remove(d)


def _claim(root: Path, name: str) -> Path:
    """Create the point's scratch directory, owned by this process; refused while another process owns it."""
    path = scratch_dir(root, name)
    clear_leftovers(root, name)
    try:
        return claim_dir(path)
    except FileExistsError:
        raise KansymError(f"point {name} is {_busy(path)}") from None
    except OSError as exc:
        raise KansymError(f"cannot create {path}: {exc.strerror}") from None


def _record_runs_dir(run: Path, runs_dir: str) -> None:
    """Name in config.json the folder the point is published in, not its scratch directory."""
    config = RunDir(run).config
    config["runs_dir"] = runs_dir
    write_json_atomic(run / "config.json", config)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:300]
    return text if isinstance(exc, KansymError) else f"{type(exc).__name__}: {text}"


def _run_point(task) -> tuple[str, str]:
    """Compute one point in its scratch directory and move it into place; (name, '' or why it failed)."""
    name, cfg = task
    root = Path(cfg.runs_dir)
    try:
        scratch = _claim(root, name)
    except KansymError as exc:
        return name, str(exc)
    try:
        discover(replace(cfg, runs_dir=str(scratch)), execution=Execution(jobs=1), run_id=name)
        _record_runs_dir(scratch / name, cfg.runs_dir)
        publish_dir(scratch / name, root / name)  # an old run there is swapped out and removed with the scratch
    except Exception as exc:  # the sweep goes on; the point is 'failed' in the summary
        return name, _reason(exc)
    finally:
        remove(scratch)
    return name, ""


def run_sweep(sweep: Sweep, execution: Execution | None = None, progress=None) -> tuple[pd.DataFrame, list[str]]:
    """Run every point not finished (an interrupted or unreadable one is redone under its own name); write
    and return the summary of every point and the names finished now. A failing point does not stop the
    others: it is 'failed' in the summary, with the reason. A point another live process is computing is
    left to it ('missing'). The summary is written even when the sweep is interrupted. ``progress`` is given a line
    per step: the check of the finished points, each one run again and why, each point done."""
    make_dir(sweep.root)
    check_outputs(sweep)
    states = {n: point_state(sweep.root, n) for n, _ in sweep.points}
    done = [n for n, _ in sweep.points if states[n][0] == "done"]
    if done and progress:
        progress(f"checking the {len(done)} finished point(s) against their networks (about 7 s each)")
    planned = dict(sweep.points)
    for n in done:  # a finished point's numbers are its networks' and formula's, for its plan, or it is redone
        try:
            check_run(sweep.root / n)
        except KansymError as exc:
            why = f"its files disagree with its networks ({exc})"
        else:
            why = _off_plan(sweep.root / n, planned[n])
        if why:
            states[n] = ("todo", why)
            if progress:
                progress(f"point {n} is run again: {why}")
    for n, _ in sweep.points:
        clear_leftovers(sweep.root, n)
    todo = [(n, c) for n, c in sweep.points if states[n][0] == "todo"]
    try:
        results = run_tasks(_run_point, todo, execution,
                            progress=(lambda m: progress("done: " + m.replace("task", "point"))) if progress else None)
    except BaseException:
        with contextlib.suppress(Exception):
            write_summary(sweep, interrupted=_settle(sweep))
        raise
    return write_summary(sweep, {n: why for n, why in results if why}), [n for n, why in results if not why]


def check_outputs(sweep: Sweep) -> None:
    """Before any work: the summary files, where present, are regular files and the points' folders are no
    symbolic links (a point is a folder the sweep writes itself)."""
    for name in ("summary.csv", "summary.png", "summary.pdf"):
        path = sweep.root / name
        if path.is_symlink() or (path.exists() and not path.is_file()):
            raise KansymError(f"{path} is not a regular file (the sweep writes its summary there); remove it")
    for name, _ in sweep.points:
        if (sweep.root / name).is_symlink():
            raise KansymError(f"point {sweep.root / name} is a symbolic link; a sweep's points are folders it writes "
                              "itself: remove the link")


def _off_plan(run: Path, cfg: DiscoverConfig) -> str:
    """Why the finished point in ``run`` is not the sweep's point ``cfg`` (a run of another point or sweep copied
    there: the options its config.json records differ), or '' when it is."""
    recorded = run_config(RunDir(run).config, f"point {run.name}: config.json").to_dict()
    planned = cfg.to_dict()
    differ = [k for k in planned if k != "runs_dir" and recorded.get(k) != planned[k]]
    return (f"its config.json records {', '.join(differ[:3])} other than the sweep's plan (a run of another point)"
            if differ else "")


def _settle(sweep: Sweep, seconds: float = 5.0) -> set[str]:
    """After an interrupt: wait up to ``seconds`` for the workers that held points to end, then remove what they
    left; returns those points' names (the summary says 'interrupted', not 'being run by another kansym
    process')."""
    deadline = time.monotonic() + seconds
    held = {n for n, _ in sweep.points if _leftovers(sweep.root, n)}
    while time.monotonic() < deadline and any(owner_alive(d) for n in held for d in _leftovers(sweep.root, n)):
        time.sleep(0.1)
    for n in held:
        clear_leftovers(sweep.root, n)
    return {n for n in held if not _leftovers(sweep.root, n)}


def write_summary(sweep: Sweep, failed: dict[str, str] | None = None, interrupted=()) -> pd.DataFrame:
    """Write ``summary.csv`` (and ``summary.png`` when a point is done); return the summary."""
    table = summary(sweep, failed, interrupted)
    write_csv(sweep.root / "summary.csv", table)
    done = table[table["state"] == "done"]
    if len(done):
        save_figure(sweep_plot(done, list(sweep.grid)), sweep.root / "summary.png", dpi=120)
    return table


def _cell(value):
    return str(list(value)) if isinstance(value, (list, tuple)) else value


def summary(sweep: Sweep, failed: dict[str, str] | None = None, interrupted=()) -> pd.DataFrame:
    """One row per grid point, in grid order: its state ('done'; 'failed' for the unfinished points in
    ``failed``, a dict name -> reason; else 'missing', the reason 'interrupted' for the points in ``interrupted``)
    and the reason, its grid values and, when done, the KAN's and the
    formula's RMSE, the formula's constants and far-extrapolation deviation, and whether it is on the Pareto
    set of (test RMSE, constants, far deviation) among the done points."""
    failed = failed or {}
    runs = gather(sweep.root)
    found = {r["run_id"]: r for r in runs.to_dict("records")} if len(runs) else {}
    rows = []
    for name, cfg in sweep.points:
        state, reason = point_state(sweep.root, name)
        if name in failed:  # failed now (a finished point whose files disagreed with its networks included)
            state, reason = "failed", failed[name]
        elif state != "done":
            state = "missing"  # not run, interrupted, or being run by another live process
            reason = "interrupted" if name in interrupted else reason
        run = found.get(name, {}) if state == "done" else {}
        rows.append({"run_id": name, "state": state, "reason": reason,
                     **{g: _cell(getattr(cfg, g)) for g in sweep.grid},
                     **{k: v for k, v in run.items() if k not in ("run_id", "status", "error")}})
    df = pd.DataFrame(rows)
    for c in df.columns:  # whole numbers stay whole beside points without them (538, not 538.0)
        given = [r[c] for r in rows if r.get(c) is not None]
        if given and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in given):
            df[c] = pd.array([r.get(c) for r in rows], dtype="Int64")
    cols = ["formula.rmse_mev.test", "formula.n_constants", "formula.far_rms_beyond_mev"]
    for c in cols:
        if c not in df:
            df[c] = np.nan
    v = df[cols].to_numpy(dtype=float)
    ok = np.isfinite(v).all(axis=1) & (df["state"] == "done").to_numpy()
    df["pareto"] = pareto_mask(v, ok).tolist() if len(v) else []
    return df


def sweep_plot(table: pd.DataFrame, grid_names):
    """Formula accuracy (test RMSE) against constants, coloured by the RMS departure from the reference
    beyond AME2020; the Pareto set circled."""
    from matplotlib.colors import LogNorm

    fig = figs.new_figure(figsize=(7, 4.8))
    ax = fig.subplots()
    x = table["formula.n_constants"].to_numpy(dtype=float)
    y = table["formula.rmse_mev.test"].to_numpy(dtype=float)
    d = table["formula.far_rms_beyond_mev"].to_numpy(dtype=float)
    fin = np.isfinite(d) & (d > 0)
    norm = LogNorm(vmin=max(np.nanmin(d[fin]), 1e-3), vmax=max(np.nanmax(d[fin]), 2e-3)) if fin.any() else None
    sc = ax.scatter(x, y, c=np.where(fin, d, np.nan), cmap="viridis", norm=norm, s=36, label="sweep points")
    par = table["pareto"].to_numpy(dtype=bool)
    ax.scatter(x[par], y[par], facecolors="none", edgecolors="r", s=110, lw=1.2, label="Pareto set")
    labels = [", ".join("none" if v is None or (isinstance(v, float) and v != v) else str(v) for v in row)
              for row in table[list(grid_names)].itertuples(index=False)]
    for xi, yi, lab in zip(x, y, labels):
        if np.isfinite(xi) and np.isfinite(yi):
            ax.annotate(lab, (xi, yi), fontsize=6, xytext=(3, 3), textcoords="offset points")
    if fin.any():
        fig.colorbar(sc, ax=ax, label="formula: RMS departure beyond AME2020 [MeV]")
    ax.set_xlabel("constants of the chosen formula")
    ax.set_ylabel("formula test RMSE [MeV]")
    ax.set_title(f"sweep over {', '.join(grid_names)}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
