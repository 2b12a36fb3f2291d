"""Command-line interface: parse options, call the Python API, render with rich.

Results go to stdout; progress and diagnostics go to stderr. User mistakes exit with code 2.
"""

from __future__ import annotations

import errno
import functools
import os
import re
import sys
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from kansym.cli import streams
from kansym.choices import (Aggregate, Beyond, Domain, Engine, PoorEdges, Stage, Subset, TableFormat, Target, Trainer, Use,
                            Weights)
from kansym.errors import KansymError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_show_locals=False,
                  rich_markup_mode=None,  # help text is plain text: "[s]" and "[default: ...]" stay as written
                  help="kansym: discover closed-form nuclear-mass formulas with Kolmogorov-Arnold networks.")
# piped output (no terminal) is never cut at 80 columns: run ids and paths stay whole for scripts
_CLOSED = streams.reopen_closed()  # started with >&- or 2>&-: those streams now write to the null device
class _Console(Console):
    """rich's Console, except that a closed pipe is an OSError (one line on stderr, exit code 2, as for --json) rather
    than rich's silent exit with code 1."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        os.dup2(os.open(os.devnull, os.O_WRONLY), (sys.stderr if self.stderr else sys.stdout).fileno())
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")


out = _Console(width=None if sys.stdout.isatty() else 10_000)
err = _Console(stderr=True, width=None if sys.stderr.isatty() else 10_000)
_FORMAT = "\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff"  # bidirectional overrides, invisible marks
_CONTROL = re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f{_FORMAT}]")  # shown as '?', never sent to a terminal


def _cell(text: str) -> str:
    """A one-line text: every control and format character, newlines and tabs included, shown as '?'."""
    return re.sub(f"[\\x00-\\x1f\\x7f-\\x9f{_FORMAT}]", "?", str(text))


def handled(fn):
    """Turn KansymError into 'Error: ...' on stderr and exit code 2 (no traceback)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except KansymError as exc:
            _error(str(exc))
        except OSError as exc:  # a path too long, a symlink loop, a full disk, a closed or full stdout, ...
            _error(_os_message(exc))
        except RecursionError:
            _error("input nested too deeply to be read")
    return wrapper


def _error(message: str):
    """Print 'Error: message' on stderr as one line of plain text and exit with code 2; an error an interrupt caused
    inside a library (an import cut short, read as a broken checkpoint) is the interrupt (code 130)."""
    if streams.INTERRUPT["received"]:
        raise typer.Exit(code=130) from None
    try:
        text = shortened(" ".join(_CONTROL.sub("?", message).split()))  # file text never drives the terminal
        err.print(Text.assemble(("Error: ", "bold red"), text), highlight=False, soft_wrap=True)
    except OSError:
        pass  # stderr itself is unusable: the exit code still says it
    raise typer.Exit(code=2) from None


_LONG_WORD = re.compile(r"\S{301,}")


def shortened(text: str) -> str:
    """``text`` with every run of more than 300 characters without a space (a pasted value, a path) cut to its
    first 120 and its length, so that an error stays one readable line."""
    def cut(m):
        word = m.group(0)
        opening, closing = re.match(r"[(\['\"]*", word).group(0), re.search(r"[)\]'\",.;:]*$", word).group(0)
        return f"{word[:120]}...({len(word) - len(opening) - len(closing)} characters){closing}"  # quotes kept
    return _LONG_WORD.sub(cut, text)


def _os_message(exc: OSError) -> str:
    """One line for an operating-system error: what failed, on which file, and where partial output lies."""
    import shutil

    if isinstance(exc, shutil.Error) and exc.args and isinstance(exc.args[0], list) and exc.args[0]:
        src, _, why = exc.args[0][0]  # copytree's list of (source, destination, reason)
        return f"cannot copy {src}: {why}"
    if getattr(exc, "filename", None):
        where = f" ({exc.filename})"
    else:
        where = " (writing the output)" if getattr(exc, "errno", None) in (errno.ENOSPC, errno.EPIPE) else ""
    text = f"{exc.strerror or str(exc)[:200] or type(exc).__name__}{where}"
    if getattr(exc, "errno", None) == errno.ENOSPC and getattr(exc, "filename", None):
        text += "; a run interrupted by it leaves its output under .partial-* (`kansym runs --partial`, `kansym clean`)"
    return text


def _version(value: bool):
    if value:
        from kansym import __version__
        typer.echo(f"kansym {__version__}")
        raise typer.Exit()


@app.callback()
def root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Print the kansym version and exit.")):
    """kansym: discover closed-form nuclear-mass formulas with Kolmogorov-Arnold networks."""


def _fmt(x: float, digits: int = 3) -> str:
    return "-" if x != x else f"{x:.{digits}f}"


def _dir_path(text: str) -> Path:
    """A directory option: an empty or blank value is refused (it would mean the current directory)."""
    if not str(text).strip():
        raise typer.BadParameter("needs a directory name, not an empty value")
    return Path(text)


def _dir_option(default: str, help: str):
    return typer.Option(default, help=help, parser=_dir_path, metavar="DIR")


@app.command()
@handled
def data(
    target: Optional[str] = typer.Option(None, metavar="[be|me|residual]", help="Use the selection `kansym discover --target TARGET` uses by default (subset and cuts), overridden by the options below."),
    subset: Optional[Subset] = typer.Option(None, help="Nuclide subset [default: all, or the target's]."),
    min_z: Optional[int] = typer.Option(None, help="Smallest proton number [default: 8, or the target's]."),
    min_n: Optional[int] = typer.Option(None, help="Smallest neutron number [default: 8, or the target's]."),
    max_unc: Optional[str] = typer.Option(None, metavar="<MeV|none>", help="Largest AME2020 mass-excess uncertainty [MeV], or none [default: 0.1, or the target's]."),
    include_estimated: bool = typer.Option(False, help="Keep '#' (estimated) AME values."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
):
    """Coverage and RMS of every bundled mass model against AME2020 on a selection."""
    from kansym.nuclear.survey import model_survey
    from kansym.nuclear.targets import Selection

    unc = _max_unc(max_unc)
    if target is not None:
        from kansym.pipeline.config import DiscoverConfig
        sel = DiscoverConfig(target=target, subset=subset.value if subset else None, min_z=min_z, min_n=min_n,
                             max_unc=unc, include_estimated=include_estimated).resolved().selection()
    else:
        sel = Selection(subset.value if subset else "all", 8 if min_z is None else min_z, 8 if min_n is None else min_n,
                        0.1 if unc == -1.0 else unc, include_estimated)
    report = model_survey(sel)
    if as_json:
        _echo_json(report)
        return
    c = report["counts"]
    table = Table(title=f"Mass models vs AME2020: {c['nuclei']} nuclei "
                        f"({c['even_even']} e-e, {c['odd_a']} odd-A, {c['odd_odd']} o-o), "
                        f"Z {c['Z_range'][0]}-{c['Z_range'][1]}, N {c['N_range'][0]}-{c['N_range'][1]}; "
                        f"selection {_selection_text(report['selection'])}")
    for col in ("model", "covered", "missing", "RMS", "mean", "max|d|", "note"):
        table.add_column(col, justify="left" if col in ("model", "note") else "right")
    for r in report["models"]:
        table.add_row(r["label"], str(r["covered"]), str(r["missing"]), _fmt(r["rms_mev"]),
                      _fmt(r["mean_mev"]), _fmt(r["max_abs_mev"]), r["note"])
    out.print(table)
    out.print("d = ME(model) - ME(AME2020) in MeV. Not bundled: HFB-31, Bhagwat 2014.")


def _max_unc(text: Optional[str]) -> Optional[float]:
    """--max-unc: not given -> -1.0 (the default), 'none' -> None (no cut), else a number of MeV."""
    if text is None:
        return -1.0
    if text.strip().lower() == "none":
        return None
    if not text.isascii() or "_" in text:
        raise KansymError(f"--max-unc must be a positive number of MeV in ASCII digits or 'none', got {text[:40]!r}")
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (0 < value < float("inf")):
        raise KansymError(f"--max-unc must be a positive number of MeV or 'none', got {text[:40]!r}")
    return value


def _selection_text(sel: dict) -> str:
    unc = sel.get("max_unc", sel.get("max_unc_mev"))
    return (f"{sel['subset']}, Z >= {sel['min_z']}, N >= {sel['min_n']}, "
            + ("no uncertainty cut" if unc is None else f"dME <= {unc} MeV")
            + (", incl. estimated" if sel.get("include_estimated") else ""))


def _csv_texts(text: str, option: str) -> list[str]:
    """A comma list of names ('' is none); an empty element or a name given twice is an error."""
    if not text.strip():
        return []
    parts = [t.strip() for t in text.split(",")]
    if not all(parts):
        raise KansymError(f"{option} has an empty element: {text[:60]!r}")
    twice = sorted(t for t, n in Counter(parts).items() if n > 1)
    if twice:
        raise KansymError(f"{option} names {', '.join(twice)[:60]} more than once")
    return parts


def _csv_ints(text: Optional[str], option: str) -> Optional[tuple[int, ...]]:
    if text is None:
        return None
    parts = text.replace(" ", "").split(",")
    if not all(v.isascii() and v.lstrip("-").isdecimal() and len(v) <= 12 for v in parts):
        raise KansymError(f"{option} takes comma-separated integers in ASCII digits, got {text[:40]!r}")
    return tuple(int(v) for v in parts)


def _progress_for(cfg, quiet: bool):
    """A rich progress bar over the training stages, or None when quiet."""
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    if quiet:
        return None, None
    stages = (1 + int(cfg.prune) + len(cfg.refine)) if cfg.ensemble == 1 else cfg.ensemble
    stages += (cfg.stage != "kan") + (cfg.stage == "all" and cfg.crosscheck != "none") + (cfg.stage == "all" and cfg.extrapolate)
    if not err.is_terminal:  # a log or a pipe: a bar would be drawn once, at the end; one line per step instead
        t0, done = time.monotonic(), [0]

        def line(stage: str) -> None:
            within = stage.startswith("formula search")
            done[0] += 0 if within else 1
            err.print(Text(f"{stage if within else 'done: ' + stage} ({done[0]}/{stages}, "
                           f"{time.monotonic() - t0:.0f} s)"), highlight=False)
        return None, line
    bar = Progress(TextColumn("[bold]{task.description:<28}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                   TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=False)
    task = bar.add_task("training KAN", total=stages)

    def step(stage: str) -> None:  # a stage ends (counted) or the formula search reports within its stage
        within = stage.startswith("formula search")
        bar.update(task, advance=0 if within else 1, description=stage if within else f"done: {stage}")
    return bar, step


@app.command()
@handled
def discover(
    target: Target = typer.Option(Target.be, help="be (binding energy), me (mass excess) or residual (experiment - model)."),
    model: Optional[str] = typer.Option(None, metavar="[ws4|ws4rbf|dz28|frdm12|ktuy05|hfb27|dz10]", help="Mass model for residual targets: ws4, dz28, frdm12, ktuy05, hfb27, dz10."),
    subset: Optional[Subset] = typer.Option(None, help="Nuclide subset [default: even-even for be/me, all for residual]."),
    features: Optional[str] = typer.Option(None, metavar="[zn|znv|zns|znsp|znst|kan4|kan9|kan11|znps]", help="Feature set: zn, znv (with the distances to magic numbers), zns (with the shell occupancies s_Z, s_N), znsp (zns and Casten's P_NZ), znst (zns and the three-body occupancies t_Z, t_N; the default for --target be), kan4, kan9, kan11, znps (see the README)."),
    split: Optional[str] = typer.Option(None, help="random:0.8, kfold:3[:FOLD], new-in-ame2020 or none."),
    min_z: Optional[int] = typer.Option(None, help="Smallest Z [default: 30 for be/me even-even, else 8]."),
    min_n: Optional[int] = typer.Option(None, help="Smallest N [default: 30 for be/me even-even, else 8]."),
    max_unc: Optional[str] = typer.Option(None, metavar="<MeV|none>", help="Largest ME uncertainty [MeV], or none [default: none for be/me even-even, else 0.1]."),
    include_estimated: bool = typer.Option(False, help="Keep '#' (estimated) AME values."),
    baseline: Optional[str] = typer.Option(None, metavar="[ldx|ld|linear|none]", help="Baseline the KAN learns on top of: ldx (liquid drop + Wigner + surface symmetry), ld (5-term liquid drop), linear or none [default: ldx for be, linear for me, none for residual]."),
    width: Optional[str] = typer.Option(None, help="Hidden layer widths, e.g. 5 or 5,3 [default: 5 for be/me, 10 for residual]."),
    grid: int = typer.Option(3, help="Initial spline grid intervals."),
    refine: Optional[str] = typer.Option(None, help="Grid refinement schedule after pruning [default: 5,10,20 for be/me, 5,10 for residual]."),
    k: int = typer.Option(3, help="Spline order."),
    steps: Optional[int] = typer.Option(None, help="LBFGS steps per stage [default: 20]."),
    lamb: float = typer.Option(1e-3, help="Sparsity regularisation weight (first stage)."),
    prune: bool = typer.Option(True, help="Prune nodes and edges after the sparsifying stage."),
    ensemble: Optional[int] = typer.Option(None, help="Networks trained with seeds seed, seed+1, ...; the formula search takes candidates from every one [default: 4]."),
    aggregate: Aggregate = typer.Option(Aggregate.median, help="How ensemble members combine: median (one runaway member cannot drag it) or mean; members that diverge on the test nuclei are dropped first."),
    uncertainty: Optional[bool] = typer.Option(None, "--uncertainty/--no-uncertainty", help="Per-nucleus ensemble spread sigma_ens and its calibration [default: on with 2 or more members]."),
    beyond_range: Beyond = typer.Option(Beyond.clamp, help="Network inputs outside the training range: clamp (every edge constant past its trained range) or spline (pykan's extended grid as is)."),
    trainer: Trainer = typer.Option(Trainer.fast, help="Code that trains the network: fast (pykan's training with a faster evaluation of the same network) or pykan (MultKAN.fit as it is; the recipe of runs before kansym 0.2)."),
    max_hidden: Optional[int] = typer.Option(None, help="Keep at most this many hidden nodes after pruning [default: 1 for be, 3 for me, none for residual]."),
    lib: str = typer.Option("physics+poly", help="Edge-function libraries joined by '+', each giving its own candidates: physics, poly, pykan, or a list such as 'x,x^2,x^(2/3),exp' (used as given)."),
    r2_min: float = typer.Option(0.9, help="Smallest acceptable R^2 of an edge fit."),
    poor_edges: PoorEdges = typer.Option(PoorEdges.best, help="An edge below --r2-min: best (keep the best function, with a note), zero, or error."),
    max_constants: Optional[int] = typer.Option(None, help="Largest number of constants of the chosen formula [default: 30 for --target residual (a correction over the whole chart); else 10 for --features zn, like the published two-input formulas (Duflo-Zuker 10, the KAN paper's Eq. 6 with 9), and 12]."),
    expand: bool = typer.Option(False, help="Also try the network multiplied out into monomials (polynomial candidates; judged like every other)."),
    joint: bool = typer.Option(False, help="Joint edge search: also try each edge's next-best library functions (x^(2/3) beside sqrt, ...), combined and refitted jointly (16 combinations per network)."),
    search_budget: Optional[float] = typer.Option(None, help="Wall-clock budget of the formula search over all members [s]; members share 70 %, the validation the rest [default: 90; 60 for residual]."),
    cv_folds: int = typer.Option(5, help="Folds of the cross-validation (on the training nuclei) that scores formula structures."),
    weights: Weights = typer.Option(Weights.none, help="Weights of the fits (network, baseline and formula constants): none, or dme = 1/(dME^2 + s^2) with AME2020's mass uncertainty dME and s = --weight-floor. RMSEs stay unweighted."),
    weight_floor: float = typer.Option(0.1, help="s of --weights dme [MeV]: the accuracy a model can reach, so that the best-measured nuclei do not dominate."),
    seed: int = typer.Option(0, help="Random seed (split and network)."),
    stage: Stage = typer.Option(Stage.all, help="Stop after this stage: kan, symbolic or all (the symbolic options are recorded for a later `kansym symbolic`)."),
    crosscheck_engine: Engine = typer.Option(Engine.auto, "--crosscheck", help="Cross-check engine after the symbolic stage: auto, pyoperon, pysr or none."),
    crosscheck_generations: Optional[int] = typer.Option(None, help="Cross-check search length in generations (reproducible for a seed) [default: 50; 10 for residual]."),
    crosscheck_budget: Optional[float] = typer.Option(None, help="Cap on the cross-check search time [s]; results then depend on machine speed [default: no cap]."),
    extrapolate_chains: str = typer.Option("Zr,Nd,Hg,Fm", "--chains", help="Isotopic chains for the extrapolation stage ('' to skip)."),
    runs_dir: Path = _dir_option("runs", "Where run directories are created."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output; print only the run directory."),
    jobs: Optional[int] = typer.Option(None, help="Worker processes for independent fits (ensemble members) [default: the CPUs this process may use]."),
    backend: str = typer.Option("loky", metavar="[loky|dask]", help="Where fits run: loky (local processes) or dask (a dask.distributed cluster; pip install 'kansym[dask]')."),
    scheduler: Optional[str] = typer.Option(None, help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 [default: a local cluster of --jobs workers]."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (strict; non-finite numbers as \"NaN\") instead of tables."),
):
    """Train a pruned KAN on a target and write a run directory."""
    from kansym.pipeline.config import DiscoverConfig
    from kansym.pipeline.discovery import discover as run_discover

    if max_hidden is not None and max_hidden < 1:
        raise KansymError(f"--max-hidden must be >= 1, got {max_hidden}")
    for option, value in (("--split", split), ("--model", model), ("--features", features)):
        if value is not None and not value.strip():
            raise KansymError(f"{option} is empty; leave it out for the default")
    cfg = DiscoverConfig(
        target=target, subset=subset.value if subset else None, model=model, features=features, split=split,
        min_z=min_z, min_n=min_n, max_unc=_max_unc(max_unc), include_estimated=include_estimated,
        baseline=baseline, width=_csv_ints(width, "--width"), grid=grid, refine=_csv_ints(refine, "--refine"), k=k, steps=steps,
        lamb=lamb, prune=prune, ensemble=ensemble, aggregate=aggregate, uncertainty=uncertainty, beyond=beyond_range,
        trainer=trainer,
        max_hidden=-1 if max_hidden is None else max_hidden, lib=lib,
        r2_min=r2_min, poor_edges=poor_edges, max_constants=max_constants, expand=expand, joint=joint, seed=seed, stage=stage,
        search_budget=search_budget, cv_folds=cv_folds, weights=weights, weight_floor=weight_floor,
        crosscheck=crosscheck_engine, crosscheck_budget=crosscheck_budget, crosscheck_generations=crosscheck_generations,
        extrapolate=bool(extrapolate_chains.strip()), chains=tuple(_csv_texts(extrapolate_chains, "--chains")),
        runs_dir=str(runs_dir)).resolved()
    if max_hidden is not None and cfg.max_hidden is not None and cfg.max_hidden > max(cfg.width):
        raise KansymError(f"--max-hidden {cfg.max_hidden} has no effect with --width {','.join(map(str, cfg.width))}: "
                          "pruning keeps at most as many hidden nodes as the widest layer has")
    if cfg.stage != "all" and cfg.chains and cfg.chains != DiscoverConfig.chains:
        raise KansymError(f"--chains has no effect with --stage {cfg.stage}: the extrapolation runs after the "
                          "cross-check of --stage all (or later: `kansym extrapolate RUN --chains ...`)")
    from kansym.network.execution import Execution
    execution = Execution(jobs, backend, scheduler).checked().reachable()
    bar, progress = _progress_for(cfg, quiet)
    progress = streams.interruptible(progress)
    try:
        if bar:
            with bar:
                result = run_discover(cfg, progress=progress, execution=execution)
        else:
            result = run_discover(cfg, progress=progress, execution=execution)
    except KeyboardInterrupt:
        from kansym.runs.store import owner_text, partial_runs

        partial = [p for p, _ in partial_runs(Path(cfg.runs_dir)) if owner_text(p) == str(os.getpid())]  # its own
        where = f"; partial output is in {path_safe(partial[-1])} (`kansym clean` removes it)" if partial else ""
        err.print(f"[bold red]Interrupted[/]: no run directory was created{where}")
        streams.INTERRUPT["reported"] = True
        raise typer.Exit(code=130) from None
    if as_json:
        from kansym.runs.store import RunDir
        _echo_json(_run_json(RunDir(Path(result.run_dir))))
        return
    for note in result.notes:
        _note(note)
    if quiet:
        typer.echo(_cell(str(result.run_dir)))
        return
    formula = render_formula(result.run_dir)
    if formula is not None:
        out.print(formula)
    out.print(render_summary(result.config, result.metrics, result.importance, result.run_dir))



def path_safe(path) -> str:
    """A folder or file name for a terminal: :func:`terminal_safe`, with newlines and tabs shown as '?' too (a
    name is one line)."""
    return terminal_safe(re.sub(r"[\n\t]", "?", str(path)))


def terminal_safe(obj):
    """Strings from run files made safe for a terminal table: control characters (ANSI and OSC escapes) shown
    as '?', rich markup escaped so that it prints as written; dicts, lists and DataFrames recursively."""
    from rich.markup import escape

    if isinstance(obj, str):
        return escape(_CONTROL.sub("?", obj))
    if isinstance(obj, dict):
        return {terminal_safe(k): terminal_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(terminal_safe(v) for v in obj)
    if hasattr(obj, "map") and hasattr(obj, "columns"):  # a DataFrame (importance.csv)
        return obj.map(lambda v: terminal_safe(v) if isinstance(v, str) else v)
    return obj


def _note(text) -> None:
    """A diagnostic on stderr, printed as plain text (never as rich markup), on one logical line."""
    err.print(Text.assemble(("note: ", "yellow"), _CONTROL.sub("?", str(text))), highlight=False, soft_wrap=True)


def _echo_json(obj) -> None:
    """Strict JSON on stdout, unwrapped and uncoloured (for scripts)."""
    from kansym.safeio import json_text

    typer.echo(json_text(obj))


def _sweep_cell(column: str, value) -> str:
    """A sweep summary cell: '-' where a point has no value (None or NaN), counts as whole numbers."""
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    if column == "formula.n_constants" and isinstance(value, (int, float)):
        return str(int(value))
    return _fmt(value) if isinstance(value, float) else _cell(str(value))


def _run_json(r) -> dict:
    """Everything ``show`` prints about a run, as plain data: the fields kansym writes and checks (the names of any
    others are listed under ``unrecognised_fields``, their values left out)."""
    from kansym.pipeline.registry import known_fields

    formula = r.read_json("formula.json") if r.file("formula.json").exists() else None
    imp = r.importance()
    imp = None if imp is None else imp.to_dict(orient="records")
    kept, left = known_fields(r.config, r.metrics, formula)
    metrics = kept["metrics.json"]
    out = {"run_id": r.id, "run_dir": str(r.path), "config": kept["config.json"], "metrics": metrics,
           "formula": kept["formula.json"], "importance": imp, "notes": metrics.get("notes", {})}
    return {**out, "unrecognised_fields": left} if left else out


def _runs_row(r) -> dict:
    """One run of ``kansym runs --json`` (its numbers as recorded, unchecked); a corrupt run is listed with the
    reason."""
    from kansym.runs.store import listed

    try:
        c, m = listed(r)
        return {"run_id": r.id, "path": str(r.path), "status": "ok", "target": c.get("target"),
                "features": c.get("features"), "n_nuclei": m.get("n_nuclei"), "rmse_mev": m.get("rmse_mev"),
                "pruned_width": m.get("pruned_width"),
                "formula": (m.get("formula") or {}).get("candidate") if isinstance(m.get("formula"), dict) else None}
    except (KansymError, AttributeError, TypeError, ValueError) as exc:
        return {"run_id": r.id, "path": str(r.path), "status": "corrupt", "error": str(exc)}


def _versions_text(kansym_version, versions: dict) -> str:
    """kansym's and the numerical libraries' versions a run was made with, and those installed now where they
    differ (a rerun is bit-identical only with the same ones)."""
    from kansym.pipeline.config import library_versions

    now = library_versions()
    text = f"kansym {kansym_version}; " + ", ".join(f"{k} {v or '-'}" for k, v in versions.items())
    changed = [f"{k} {now.get(k) or '-'}" for k, v in versions.items() if now.get(k) != v]
    return text + (f" [yellow](installed now: {', '.join(changed)}; a rerun may differ in the last digits)[/]"
                   if changed else "")


def render_summary(config: dict, metrics: dict, importance, run_dir) -> Table:
    """A rich table summarising a run (text from its files printed as written, never as markup)."""
    from kansym.nuclear import tables

    config, metrics, importance = terminal_safe(config), terminal_safe(metrics), terminal_safe(importance)
    t = Table(title=f"run {path_safe(Path(run_dir).name)}", show_header=False)
    t.add_column("key", style="bold")
    t.add_column("value")
    sel = _selection_text(config)
    t.add_row("target", config["target"] + (f" (model {config['model']})" if config.get("model") else ""))
    t.add_row("selection", f"{sel}; {metrics['n_nuclei']} nuclei; split {config['split']}")
    if config.get("weights", "none") != "none":
        t.add_row("weights", f"fits weighted by 1/(dME^2 + s^2), dME from AME2020, s = {config.get('weight_floor')} "
                             "MeV; RMSEs unweighted")
    t.add_row("features", config["features"])
    if isinstance(config.get("library_versions"), dict):
        t.add_row("made with", _versions_text(config.get("kansym_version"), config["library_versions"]))
    t.add_row("network", f"{metrics.get('pruned_width')} (pruned from width {config['width']})")
    r = _rmse(metrics["rmse_mev"], "metrics.json rmse_mev")
    t.add_row("KAN RMSE [MeV]", f"train {_fmt(r['train'])}  test {_fmt(r['test'])}  all {_fmt(r['all'])}")
    if metrics.get("model_rms_mev"):
        m = _rmse(metrics["model_rms_mev"], "metrics.json model_rms_mev")
        t.add_row("model RMS [MeV]", f"train {_fmt(m['train'])}  test {_fmt(m['test'])}  all {_fmt(m['all'])}")
    ens = metrics.get("ensemble")
    if ens:
        per = ", ".join(f"{s} {_fmt(v)}" for s, v in ens["members_rmse_mev"]["test"].items())
        t.add_row("members test RMSE [MeV]", f"seed {per}")
        t.add_row("ensemble", f"{ens['rule']}; " + (f"[yellow]dropped seed {', '.join(map(str, ens['dropped']))}[/]: "
                  f"{ens['reason']}" if ens["dropped"] else f"all members kept ({ens['reason']} on the {ens['checked_on']})"))
        for key, cal in (ens.get("calibration_test") or {}).items():
            if cal.get("n"):
                t.add_row(f"{key} (test)", f"RMS {_fmt(cal['rms_sigma_mev'])} MeV; |residual| within 1 sigma "
                          f"{100 * cal['within_1_sigma']:.0f}%, within 2 sigma {100 * cal['within_2_sigma']:.0f}% "
                          f"(Gaussian 68%, 95%)")
    if importance is not None:
        t.add_row("importance", ", ".join(f"{f} {v:.2f}" for f, v in zip(importance["feature"], importance["importance"])))
    if metrics.get("formula"):
        f = metrics["formula"]
        r = f["rmse_mev"]
        t.add_row("formula RMSE [MeV]", f"train {_fmt(r['train'])}  test {_fmt(r['test'])}  all {_fmt(r['all'])}  "
                                        f"({f['n_constants']} constants, candidate {f['candidate']})")
        if f.get("cv_rmse_mev") is not None:
            t.add_row("formula choice", f"structure from {len(f.get('members') or [])} of {f.get('n_members')} members; "
                      f"CV RMSE {_fmt(f['cv_rmse_mev'])} (+- {_fmt(f.get('cv_spread_mev'))}), extrapolation "
                      f"validation {_fmt(f.get('edge_validation_rmse_mev'))} MeV; {f.get('n_eligible')} of "
                      f"{f.get('n_structures')} structures eligible (the search's record, as in candidates.csv)")
        if f.get("kan_agreement_mev") is not None:
            t.add_row("formula vs its KAN", f"RMS {_fmt(f['kan_agreement_mev'])} MeV before the refit (the search's "
                      "record)"
                      + (f"; max |corr| {f['max_abs_correlation']:.3f}" if f.get("max_abs_correlation") is not None else ""))
    elif "formula" in metrics:
        t.add_row("formula", "[red]none chosen[/]: no formula structure meets the choice rule "
                             "(see the notes and candidates.csv)")
    for p, cal in (metrics.get("predictive_uncertainty") or {}).items():  # checked against a recomputation by show
        t.add_row(f"predictive sigma ({p})", _sigma_line(cal))
    for p, diff in (metrics.get("differential_rms_mev") or {}).items():
        t.add_row(f"differential RMS ({p}) [MeV]", "; ".join(
            f"{q} {_fmt(d['all'])} (test {_fmt(d['test']) if d['test'] is not None else '-'})"
            for q, d in diff.items()) + " vs AME2020, over pairs of nuclei both in the part")
    for p, far in (metrics.get("far_extrapolation") or {}).items():  # checked against a recomputation by show
        t.add_row(f"far check ({p})", _far_line(far))
    cc = metrics.get("crosscheck")
    if cc and cc.get("selected"):
        sel = cc["selected"]
        t.add_row(f"cross-check ({cc['engine']})",
                  f"train {_fmt(sel['rmse_mev']['train'])}  test {_fmt(sel['rmse_mev']['test'])} "
                  f"({sel['n_constants']} constants); equivalent: {cc['equivalence']['symbolic'] or cc['equivalence']['numerical']} "
                  "(as crosscheck.json records; `kansym crosscheck` recomputes)")
    ex = metrics.get("extrapolation") or {}
    steps = f"{ex['beyond']} chain steps" if isinstance(ex.get("beyond"), int) else "the chain steps"
    for key, values in ex.items():
        if key.startswith("mean_chain_rms_vs_") and isinstance(values, dict):
            ref = key.removeprefix("mean_chain_rms_vs_").removesuffix("_mev")
            label = tables.MODELS[ref].label if ref in tables.MODELS else ref
            t.add_row("extrapolation", f"mean chain RMS vs {label} over {steps} beyond the last measured: "
                      + ", ".join(f"{k} {_fmt(v, 2)} MeV" for k, v in values.items()))
    drips = ex.get("drip_lines")
    if isinstance(drips, dict) and drips:
        t.add_row("neutron drip line", "; ".join(
            f"{el}: " + ", ".join(f"{tables.MODELS[k].label if k in tables.MODELS else k} {'-' if v is None else v}"
                                  for k, v in d.items()) for el, d in drips.items())
            + " (two-neutron drip line: last N before S_2n turns negative; '-': not before N = 3Z + 50 or the predictions stop)")
    t.add_row("wall time", f"{metrics.get('wall_time_total_s', float('nan')):.1f} s")
    t.add_row("directory", path_safe(run_dir))
    return t


def _rmse(d, where: str) -> dict:
    """An RMSE record {train, test, all} [MeV]: numbers >= 0 (NaN for an empty split), else an error naming it."""
    import math

    if not isinstance(d, dict) or not {"train", "test", "all"} <= set(d) or not all(
            isinstance(d[k], (int, float)) and not isinstance(d[k], bool) and (math.isnan(d[k]) or 0 <= d[k] < math.inf)
            for k in ("train", "test", "all")):
        raise KansymError(f"{where} must give train, test and all RMSE as numbers >= 0, got {str(d)[:60]}")
    return d


def _sigma_line(cal: dict) -> str:
    """Model-error terms and cross-calibrated coverage of a predictive uncertainty (``kansym.checks.masstable``)."""
    cov = cal.get("coverage") or {}
    parts = [f"{q}: model error {_fmt(cal['model_error_mev'][q])} MeV, within 1/2 sigma {100 * c['within_1_sigma']:.0f}%/"
             f"{100 * c['within_2_sigma']:.0f}% of {c['n']}" for q, c in cov.items() if q != "ME"]
    return "; ".join(parts) + f" (Gaussian 68%/95%; calibrated on {cal['calibrated_on']}, coverage cross-calibrated)"


def _far_line(far: dict) -> str:
    """One line of a far-extrapolation summary: sanity, and deviation from the domain's reference."""
    ok = "[green]passes[/]" if far["passed"] else f"[red]fails[/] ({'; '.join(far['failures'])})"
    dev = "; ".join(f"vs {ref}: RMS {_fmt(d['rms_beyond'], 2)} (max {_fmt(d['max_abs_beyond'], 1)}) MeV beyond AME2020, "
                    f"{_fmt(d['rms_inside'], 2)} inside" for ref, d in far["deviation_mev"].items())
    spread = far.get("fraction_outside_model_spread")
    extra = f"; outside the model spread at {100 * spread:.0f}%" if spread is not None else ""
    return f"{ok} over {far['n_nuclei']} nuclei of {far['domain']}; {dev}{extra}"


def render_formula(run_dir, checked: bool = False) -> Optional[Table]:
    """The run's formula and its parameter table, or None if the run has no formula (``checked``: the caller has
    made registry.check_run's checks already)."""
    from kansym.pipeline.config import run_config
    from kansym.runs.store import RunDir

    rd = RunDir(Path(run_dir))
    cfg = run_config(rd.config, f"run {rd.id}: config.json")  # every option checked, as a rerun would
    if not (Path(run_dir) / "formula.json").exists():
        return None
    from kansym.nuclear.features import feature_names
    from kansym.report.export import parameter_rows
    from kansym.symbolic.formula import formula_from_entry

    from kansym.pipeline.config import load_dataset
    from kansym.pipeline.registry import check_formula_record

    raw = rd.read_json("formula.json")
    formula = formula_from_entry(raw).for_columns(feature_names(cfg.features))  # the run's features, by name
    # the numbers shown are the formula's on the run's data, recomputed, and metrics.json agrees with them
    if not checked:
        check_formula_record(rd, cfg, load_dataset(cfg), formula, raw, rd.metrics)
    shown = str(formula.expr)  # the formula itself, not a 'text' field that could say otherwise
    t = Table(title=f"formula: {terminal_safe(shown)}", title_justify="left")
    metrics = raw.get("metrics") if isinstance(raw.get("metrics"), dict) else {}
    boot = metrics.get("bootstrap_stderr") or {}
    for col in ("parameter", "value", "stderr", "bootstrap", "rel.", "note"):
        t.add_column(col)
    for row in parameter_rows(formula):  # the rows the registry and the estimator's report show
        rel = row.get("relative_uncertainty")
        b = boot.get(row["name"]) if isinstance(boot, dict) else None
        t.add_row(row["name"], f"{row['value']:.8g}", "-" if row["stderr"] is None else f"{row['stderr']:.3g}",
                  "-" if not isinstance(b, (int, float)) else f"{b:.3g}",
                  "-" if rel is None else f"{100 * rel:.2g}%", row["flag"])
    return t


@app.command()
@handled
def runs(runs_dir: Path = _dir_option("runs", "Where run directories live."),
         partial: bool = typer.Option(False, "--partial", help="List the partial output of crashed or interrupted runs instead."),
         as_json: bool = typer.Option(False, "--json", help="Print JSON (strict; non-finite numbers as \"NaN\") instead of tables."),):
    """List the runs under the runs directory."""
    from kansym.runs.store import list_runs, listed, partial_runs

    _existing_runs_dir(runs_dir)
    if as_json:
        if partial:
            _echo_json([{"path": str(p), "running": alive} for p, alive in partial_runs(runs_dir)])
        else:
            _echo_json([_runs_row(r) for r in list_runs(runs_dir)])
        return
    if partial:
        left = partial_runs(runs_dir)
        for p, alive in left:
            out.print(Text(f"{path_safe(p)}  ({'being written by a running process' if alive else 'left by a crash or interrupt'})"),
                      soft_wrap=True)
        if not left:
            err.print(Text(f"no partial runs under {path_safe(runs_dir)}"))
        return
    found = list_runs(runs_dir)
    if not found:
        sweeps = sorted(p.name for p in Path(runs_dir).glob("sweep-*") if p.is_dir() and not p.is_symlink())
        hint = (f" (it holds {len(sweeps)} sweep folder{'s' if len(sweeps) > 1 else ''}, whose points are runs: "
                f"kansym runs --runs-dir {path_safe(Path(runs_dir) / sweeps[0])})" if sweeps else "")
        err.print(Text(f"no runs under {path_safe(runs_dir)}{hint}"))
        return
    t = Table(title=f"runs in {path_safe(runs_dir)}",
              caption="KAN RMSE [MeV] as the runs' files record them; `kansym show RUN` checks a run")
    for col in ("run", "target", "features", "n", "train", "test", "width"):
        t.add_column(col)
    for r in found:
        try:
            c, m = listed(r)
            rm = m.get("rmse_mev", {})
            row = (r.id, str(c.get("target", "?")), str(c.get("features", "?")), str(m.get("n_nuclei", "")),
                   _fmt(float(rm.get("train", float("nan")))), _fmt(float(rm.get("test", float("nan")))),
                   str(m.get("pruned_width", "")))
        except (KansymError, AttributeError, TypeError, ValueError) as exc:
            why = str(exc) if isinstance(exc, KansymError) else f"{type(exc).__name__} in config.json or metrics.json"
            t.add_row(Text(_cell(r.id)), Text(_cell(f"corrupt: {why}"[:70]), style="red"), "", "", "", "", "")
            continue
        t.add_row(*(Text(_cell(v)) for v in row))
    out.print(t)


def _existing_runs_dir(runs_dir: Path) -> None:
    """A runs directory to read must exist (a mistyped path is an error, not an empty list)."""
    try:
        there = runs_dir.is_dir()
    except OSError as exc:
        raise KansymError(f"--runs-dir {runs_dir}: {exc.strerror}") from None
    if not there:
        what = "is not a directory" if runs_dir.exists() else "does not exist (`kansym discover` creates it)"
        raise KansymError(f"runs directory {runs_dir} {what}")


@app.command()
@handled
def clean(runs_dir: Path = _dir_option("runs", "Where run directories live.")):
    """Remove the partial output (.partial-*) of crashed or interrupted runs; runs still being written are kept."""
    from kansym.runs.store import clean_partial, partial_runs

    _existing_runs_dir(runs_dir)
    removed = clean_partial(runs_dir)
    for p in removed:
        out.print(Text(f"removed {path_safe(p)}"), soft_wrap=True)
    live = [p for p, alive in partial_runs(runs_dir) if alive]
    for p in live:
        err.print(Text(f"kept {path_safe(p)}: being written by a running kansym process"), soft_wrap=True)
    if not removed and not live:
        err.print(Text(f"nothing to clean under {path_safe(runs_dir)}"))


@app.command()
@handled
def show(run: str = typer.Argument(..., help="Run id, unique prefix/suffix, path, or 'latest'."),
         runs_dir: Path = _dir_option("runs", "Where run directories live."),
         as_json: bool = typer.Option(False, "--json", help="Print JSON (strict; non-finite numbers as \"NaN\") instead of tables."),):
    """Print a run's summary."""
    from kansym.runs.store import find_run

    from kansym.pipeline.registry import check_run

    r = find_run(run, runs_dir)
    imp = r.importance()
    check_run(r.path)  # its networks, formula, candidates and edge fits: what the files say is what they give
    try:  # the JSON says what the tables say: a run that cannot be summarised is refused either way
        formula = render_formula(r.path, checked=True)
        summary = render_summary(r.config, r.metrics, imp, r.path)
    except KansymError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise KansymError(f"run {r.id}: config.json, metrics.json or formula.json lacks what a summary needs "
                          f"({type(exc).__name__}: {exc})") from None
    if as_json:
        _echo_json(_run_json(r))
        return
    if formula is not None:
        out.print(formula)
    out.print(summary)


@app.command()
@handled
def symbolic(run: str = typer.Argument(..., help="Run id, unique prefix/suffix, path, or 'latest'."),
             lib: Optional[str] = typer.Option(None, help="Edge-function libraries joined by '+' (e.g. physics+poly) or a comma list of functions [default: the run's]."),
             r2_min: Optional[float] = typer.Option(None, help="Smallest acceptable R^2 of an edge fit [default: the run's]."),
             poor_edges: Optional[PoorEdges] = typer.Option(None, help="An edge below --r2-min: best (keep the best function, with a note), zero, or error [default: the run's]."),
             max_constants: Optional[int] = typer.Option(None, help="Largest number of constants of the chosen formula [default: the run's]."),
             runs_dir: Path = _dir_option("runs", "Where run directories live.")):
    """Run the symbolic stage again on an existing run."""
    from kansym.pipeline.discovery import rerun_symbolic, symbolic_ready
    from kansym.runs.store import find_run

    r = find_run(run, runs_dir)
    symbolic_ready(r.path, lib=lib, r2_min=r2_min, poor_edges=poor_edges, max_constants=max_constants)
    _intact(r.path)
    result = rerun_symbolic(r.path, lib=lib, r2_min=r2_min, poor_edges=poor_edges, max_constants=max_constants)
    table = render_formula(r.path)
    if table is not None:
        out.print(table)
    for note in result["notes"]:
        _note(note)
    if result["removed"]:
        _note("removed the results made before this formula search, which do not describe the new formula ("
              + ", ".join(result["removed"]) + "); rerun `kansym extrapolate` / `kansym crosscheck` to remake them")


@app.command()
@handled
def export(run: str = typer.Argument(..., help="Run id, unique prefix/suffix, path, or 'latest'."),
           name: Optional[str] = typer.Option(None, help="Registry name [default: the run id]."),
           registry: Path = _dir_option("formulas", "Formula registry directory."),
           force: bool = typer.Option(False, help="Overwrite an existing entry."),
           correlations: bool = typer.Option(False, "--correlations", help="Add the constants' correlation matrix to NAME.tex (a table* of its lower triangle)."),
           runs_dir: Path = _dir_option("runs", "Where run directories live.")):
    """Write a run's formula to the registry as NAME.json and NAME.tex (LaTeX in a physicist's notation)."""
    from kansym.pipeline.registry import export_formula
    from kansym.runs.store import find_run

    from kansym.runs.store import output_outside_runs

    if not str(registry).strip() or str(registry) == ".":
        raise KansymError("--registry needs a directory name, e.g. formulas")
    output_outside_runs(registry, "--registry", runs_dir)
    r = find_run(run, runs_dir)
    js, tex = export_formula(r.path, r.id if name is None else name, registry, force, correlations)
    try:  # a status line (the entry is the result): an unusable terminal does not turn it into a failure
        err.print(Text(f"wrote {js} and {tex}"), highlight=False, soft_wrap=True)
    except OSError:
        pass


@app.command("table1")
@handled
def table1_cmd(models: str = typer.Option("ws4,dz28,frdm12,ktuy05,hfb27", help="Comma-separated mass models."),
               seeds: int = typer.Option(1, help="Split seeds 0..SEEDS-1; the KAN columns give the median (+- standard deviation)."),
               ensemble: Optional[int] = typer.Option(None, help="KANs per fit [default: 4]."),
               trainer: Trainer = typer.Option(Trainer.fast, help="Code that trains the networks (see discover --help)."),
               out_dir: Path = _dir_option("runs/table1", "Where table1.csv and table1.tex go."),
               force: bool = typer.Option(False, help="Replace an existing table1.csv/table1.tex in --out-dir."),
               quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
               jobs: Optional[int] = typer.Option(None, help="Worker processes for independent fits (ensemble members) [default: the CPUs this process may use]."),
               backend: str = typer.Option("loky", metavar="[loky|dask]", help="Where fits run: loky (local processes) or dask (a dask.distributed cluster; pip install 'kansym[dask]')."),
               scheduler: Optional[str] = typer.Option(None, help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 [default: a local cluster of --jobs workers].")):
    """sigma_pre and sigma_KAN(train/test) per mass model on the KAN-WS4 setting, beside the paper's values."""
    from kansym.pipeline.config import DiscoverConfig
    from kansym.pipeline.table1 import check_out_dir, table1, write_table1

    if not 1 <= seeds <= 100:
        raise KansymError(f"--seeds must lie in 1 .. 100, got {seeds}")
    names = _csv_texts(models, "--models")
    if not names:
        raise KansymError("--models needs at least one mass model, e.g. ws4,dz28")
    from kansym.nuclear.tables import check_model
    models = [check_model(m).name for m in names]
    twice = sorted({m for m in models if models.count(m) > 1})
    if twice:
        raise KansymError(f"--models names {', '.join(twice)} twice (names are case-insensitive); name each once")
    check_out_dir(out_dir, force)  # before hours of training
    from kansym.runs.store import output_outside_runs
    output_outside_runs(out_dir, "--out-dir")
    base = DiscoverConfig(target="residual", ensemble=ensemble, trainer=trainer)
    base.resolved()  # a bad option fails before any training
    from kansym.network.execution import Execution
    execution = Execution(jobs, backend, scheduler).checked().reachable()
    df = table1(names, seeds, base, progress=streams.interruptible(None if quiet else lambda s: err.print(f"done: {s}")),
                execution=execution)
    csv, tex = write_table1(df, out_dir, force)
    t = Table(title="KAN-WS4 Table 1: RMS deviations from AME2020 [MeV]")
    for col in ("model", "n", "sigma_pre", "KAN train", "KAN test", "paper pre/train/test", "S_n pre/KAN",
                "S_2n pre/KAN", "Q_alpha pre/KAN", "time [s]"):
        t.add_column(col)
    for r in df.itertuples():
        paper = "/".join("-" if v is None or v != v else f"{v:.3f}" for v in
                         (r.paper_sigma_pre, r.paper_sigma_kan_train, r.paper_sigma_kan_test))
        def med(x, sd):
            return _fmt(x) + (f" +- {_fmt(sd)}" if sd == sd else "")
        t.add_row(r.model, str(r.n), _fmt(r.sigma_pre), med(r.sigma_kan_train, r.sigma_kan_train_spread),
                  med(r.sigma_kan_test, r.sigma_kan_test_spread), paper,
                  *(f"{_fmt(getattr(r, q + '_pre'))}/{_fmt(getattr(r, q + '_kan'))}" for q in ("S_n", "S_2n", "Q_alpha")),
                  f"{r.wall_time_s:.0f}")
    out.print(t)
    out.print(f"wrote {path_safe(csv)} and {path_safe(tex)}; HFB-27 has no paper row (the paper's HFB-31 is a different model); S_n, S_2n, "
              "Q_alpha: RMS vs AME2020 over all pairs of the fit's nuclei (csv: also the KAN's over held-out pairs)",
              highlight=False)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@handled
def sweep(ctx: typer.Context,
          grid: list[str] = typer.Option(..., metavar="NAME=VALUES", help="Repeatable: seed=0:5 (0..4), lamb=1e-3,3e-3, width=5;10 (';' between tuple points). ASCII digits; at most 1000 points per sweep (the product of the grids)."),
          target: Target = typer.Option(Target.be, help="Target of every point."),
          runs_dir: Path = _dir_option("runs", "The sweep goes in RUNS_DIR/sweep-<hash>/."),
          jobs: Optional[int] = typer.Option(None, help="Points run at once [default: the CPUs this process may use]."),
          backend: str = typer.Option("loky", metavar="[loky|dask]", help="loky (local processes) or dask."),
          scheduler: Optional[str] = typer.Option(None, help="Dask scheduler address [default: a local cluster]."),
          as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON.")):
    """Run discover over the product of option grids (any other discover option, e.g. --steps 10 or
    --crosscheck none, is fixed for every point); resumable (unfinished points are redone in place); writes
    summary.csv (every point: done, failed with the reason, or missing) and summary.png. Exit code 1 if a
    point failed."""
    from kansym.network.execution import Execution
    from kansym.pipeline.config import DiscoverConfig
    from kansym.pipeline.sweep import parse_flag, parse_grid, parse_value, plan, run_sweep

    fixed, extra = {}, list(ctx.args)
    while extra:
        key = extra.pop(0)
        if not key.startswith("--"):
            raise KansymError(f"unexpected argument {key!r}; fixed options read --NAME VALUE")
        name, _, value = key[2:].partition("=")
        field = name.replace("-", "_")
        if field in ("quiet", "q", "json"):
            raise KansymError(f"{key} is an option of discover's output, not of a sweep point (a sweep prints only its "
                              "summary; --json gives it as JSON)")
        if not value:
            flag = parse_flag(field)
            if flag is not None and (not extra or extra[0].startswith("--")):  # --expand, --no-prune: a switch
                fixed[flag[0]] = flag[1]
                continue
            if not extra:
                raise KansymError(f"option {key} needs a value")
            value = extra.pop(0)
        fixed[field] = parse_value(field, value)
    parsed = [parse_grid(g) for g in grid]
    twice = sorted(n for n, k in Counter(n for n, _ in parsed).items() if k > 1)
    if twice:
        raise KansymError(f"--grid names {', '.join(twice)} more than once; give all its values in one --grid")
    grids = dict(parsed)
    if "target" in grids:
        raise KansymError("--grid target=... is not swept: every point of a sweep has the sweep's --target (its "
                          "defaults depend on it); run one sweep per target")
    both = sorted(set(grids) & set(fixed))
    if both:
        raise KansymError(f"--{both[0].replace('_', '-')} is both fixed and a --grid; give it in one place")
    execution = Execution(jobs, backend, scheduler).checked().reachable()
    sw = plan(DiscoverConfig(target=target, **fixed), grids, runs_dir)  # every point validated before any fit
    err.print(Text(f"sweep {sw.root}: {len(sw.points)} points"), highlight=False)
    table, done = run_sweep(sw, execution, progress=streams.interruptible(
        lambda s: err.print(Text(" ".join(_CONTROL.sub("?", s).split())), highlight=False)))  # reasons quote files
    failed = table[table["state"] == "failed"]
    if as_json:
        _echo_json({"sweep": str(sw.root), "points": len(sw.points), "run_now": done,
                    "summary": table.to_dict(orient="records")})
    else:
        t = Table(title=f"sweep {path_safe(sw.root.name)}: {len(done)} points run now, "
                        f"{int((table['state'] == 'done').sum())} of {len(table)} finished")
        cols = [*sw.grid, "state", "formula.n_constants", "formula.rmse_mev.test", "formula.far_rms_beyond_mev", "pareto"]
        for c in cols:
            t.add_column(c.replace("formula.", "").replace("_mev", " [MeV]"))
        for _, r in table.iterrows():
            t.add_row(*[Text(_sweep_cell(c, r.get(c))) for c in cols])
        out.print(t)
        out.print(Text(f"wrote {sw.root / 'summary.csv'} and {sw.root / 'summary.png'}"), highlight=False)
    if len(failed):
        first = failed.iloc[0]
        err.print(Text(f"{len(failed)} of {len(table)} points failed (reasons in summary.csv); "
                       f"{first['run_id']}: {first['reason']}"), highlight=False, soft_wrap=True)
        raise typer.Exit(code=1)


@app.command()
@handled
def crosscheck(run: str = typer.Argument(..., help="Run id, unique prefix/suffix, path, or 'latest'."),
               engine: str = typer.Option("auto", metavar="[auto|pyoperon|pysr]", help="auto (PySR if its Julia runtime is present, else pyoperon), pyoperon or pysr."),
               generations: int = typer.Option(50, help="Search length in generations (PySR: iterations); the same seed gives the same front on any machine."),
               time_budget: Optional[float] = typer.Option(None, help="Cap on the search time [s]; results then depend on machine speed [default: no cap]."),
               maxsize: int = typer.Option(30, help="Largest expression size."),
               seed: int = typer.Option(0, help="Engine seed."),
               pysr_hof: Optional[Path] = typer.Option(None, help="Import a PySR hall_of_fame.csv instead of searching."),
               runs_dir: Path = _dir_option("runs", "Where run directories live."),
               as_json: bool = typer.Option(False, "--json", help="Print JSON (strict; non-finite numbers as \"NaN\") instead of tables."),):
    """Compare a run's KAN formula with an independent symbolic-regression search on the same data."""
    from kansym.pipeline.discovery import crosscheck_ready, rerun_crosscheck
    from kansym.runs.store import find_run

    if pysr_hof is not None and str(pysr_hof) == ".":  # (typer reads '' as '.')
        raise KansymError("--pysr-hof is empty or names the current folder: give PySR's hall_of_fame.csv")
    r = find_run(run, runs_dir)
    if pysr_hof is not None and engine in ("pyoperon", "pysr"):  # (an unknown engine is refused as such)
        raise KansymError(f"--pysr-hof imports PySR's results; --engine {engine[:20]} would not run (give one of them)")
    if pysr_hof is not None and (generations != 50 or time_budget is not None or maxsize != 30 or seed != 0):
        raise KansymError("--generations, --time-budget, --maxsize and --seed set a search; --pysr-hof imports one "
                          "that was made (give one or the other)")
    crosscheck_ready(r.path, engine, time_budget, maxsize, seed, pysr_hof, generations)
    _intact(r.path)
    report = rerun_crosscheck(r.path, engine, time_budget, maxsize, seed, pysr_hof, generations)
    if as_json:
        _echo_json(report)
        return
    out.print(render_crosscheck(report))


def render_crosscheck(report: dict) -> Table:
    search = f"{report['generations']} generations" if report.get("generations") else "imported hall of fame"
    t = Table(title=f"cross-check with {report['engine']} ({search}, seed {report.get('seed', 0)}, "
                    f"{report['engine_wall_s']} s)")
    for col in ("formula", "constants", "size", "train", "test", "extrap. vs KAN", "far check", "far RMS", "expression"):
        t.add_column(col)
    for r in report["rows"]:
        mark = " *" if r.get("selected") else ""
        if r.get("refit_failed"):
            t.add_row(r["formula"], "-", "-", "-", "-", "-", "-", "-",
                      Text(f"{r.get('engine_expression', '')} (refit failed)"))
            continue
        ex = r.get("extrapolation_rms_vs_kan_mev")
        far = "-" if "far_passed" not in r else ("passes" if r["far_passed"] else "fails")
        far_rms = next((v for k, v in r.items() if k.startswith("far_rms_vs_")), None)
        t.add_row(r["formula"] + mark, str(r["n_constants"]), str(r["size"]), _fmt(r["rmse_mev"]["train"]),
                  _fmt(r["rmse_mev"]["test"]), "-" if ex is None else _fmt(ex), far,
                  "-" if far_rms is None else _fmt(far_rms, 2), Text(r.get("numeric_expression", "")))
    eq = report.get("equivalence")
    if eq:
        t.caption = (f"selected vs KAN: symbolic equivalence {eq['symbolic']}, RMS difference "
                     f"{eq['rms_difference_mev']:.3f} MeV on the data, {report['extrapolation_rms_difference_mev']:.3f} MeV "
                     f"on {report['n_extrapolation_nuclei']} nuclei beyond the measured chains. RMSE in MeV; far: "
                     "sanity and RMS vs the reference beyond AME2020 over its whole range.")
    return t


@app.command()
@handled
def extrapolate(run: str = typer.Argument(..., help="Run id, unique prefix/suffix, path, or 'latest'."),
                chains: str = typer.Option("Zr,Nd,Hg,Fm", help="Isotopic chains by element symbol or Z."),
                isotones: str = typer.Option("", help="Isotonic chains by neutron number, e.g. 82,126."),
                beyond: int = typer.Option(10, help="Steps beyond the last measured nucleus."),
                against: str = typer.Option("frdm12,ws4", help="Reference mass models."),
                both_sides: bool = typer.Option(False, help="Extrapolate on the proton-rich side too."),
                runs_dir: Path = _dir_option("runs", "Where run directories live."),
                as_json: bool = typer.Option(False, "--json", help="Print JSON (strict; non-finite numbers as \"NaN\") instead of tables."),):
    """Predictions beyond the measured masses compared with reference models; writes extrapolation.csv."""
    from kansym.pipeline.discovery import extrapolation_ready, rerun_extrapolate
    from kansym.runs.store import find_run

    r = find_run(run, runs_dir)
    names = _csv_texts(chains, "--chains")
    iso = _csv_texts(isotones, "--isotones")
    if not names and not iso:
        raise KansymError("--chains or --isotones needs at least one chain")
    from kansym.nuclear.nuclides import MAX_CHAINS

    if len(names) + len(iso) > MAX_CHAINS:
        raise KansymError(f"--chains and --isotones take at most {MAX_CHAINS} chains together, got {len(names) + len(iso)}")
    refs = tuple(_csv_texts(against, "--against"))
    if not refs:
        raise KansymError("--against needs at least one reference mass model, e.g. frdm12,ws4")
    extrapolation_ready(r.path, names, beyond, refs, both_sides, isotones=iso)
    _intact(r.path)
    report = rerun_extrapolate(r.path, names, beyond, refs, both_sides, isotones=iso)
    if as_json:
        _echo_json(report)
        return
    ref = report["against"][0]
    side = " on the neutron-rich side (the proton-rich ones are in extrapolation.csv)" if both_sides else ""
    t = Table(title=f"extrapolation of {path_safe(r.id)}: RMS / max |prediction - {ref}| over {beyond} nuclei beyond "
                    f"the last measured{side} [MeV]")
    for col in ("chain", "prediction", f"RMS vs {ref}", f"max vs {ref}", "S2n 2nd-diff RMS", "non-finite"):
        t.add_column(col)
    for ch, rec in report["per_chain"].items():
        for p in ("kan", "formula"):
            if p in rec:
                s2n = rec.get("s2n_second_difference_rms_mev", {}).get(p, float("nan"))
                t.add_row(ch, p, _fmt(rec[p][f"rms_vs_{ref}_mev"]), _fmt(rec[p][f"max_abs_vs_{ref}_mev"]),
                          _fmt(s2n), str(rec[p]["non_finite"]))
    out.print(t)
    for note in report["notes"]:
        _note(note)


@app.command()
@handled
def predict(run: str = typer.Argument(..., help="Run id, unique prefix/suffix, path, or 'latest'."),
            domain: Optional[Domain] = typer.Option(None, help="The nuclei of a table, in the run's subset and Z, N cuts."),
            z: Optional[str] = typer.Option(None, "--z", help="Proton numbers lo:hi (a rectangle with --n; the elements with --to-drip-line)."),
            n: Optional[str] = typer.Option(None, "--n", help="Neutron numbers lo:hi."),
            to_drip_line: bool = typer.Option(False, "--to-drip-line", help="Each element's chain from its lightest measured isotope to the two-neutron drip line (the last nucleus before S_2n first turns negative)."),
            elements: Optional[str] = typer.Option(None, help="With --to-drip-line: elements by symbol or Z, e.g. Sn,Pb [default: every element of the run, or --z]."),
            use: Use = typer.Option(Use.both, help="The predictions to give: the KAN, the formula or both (one row each, column source)."),
            fmt: TableFormat = typer.Option(TableFormat.csv, "--format", help="csv, or ame: fixed width in the style of the AME and FRDM files."),
            out_file: Optional[str] = typer.Option(None, "--out", help="Write the table to this file [default: standard output]."),
            force: bool = typer.Option(False, help="Replace an existing --out file."),
            runs_dir: Path = _dir_option("runs", "Where run directories live.")):
    """Predicted masses, separation energies and Q values with predictive uncertainties over a domain."""
    from kansym import __version__
    from kansym.pipeline.predict import MAX_N, MAX_Z, parse_range, predict_run
    from kansym.report.masstable import ame_text, csv_text
    from kansym.runs.store import find_run, output_outside_runs, unwritable_dir, write_files_together

    r = find_run(run, runs_dir)
    zr = parse_range(z, "--z", MAX_Z) if z is not None else None
    nr = parse_range(n, "--n", MAX_N, bottom=0) if n is not None else None
    names = _csv_texts(elements or "", "--elements")
    if elements is not None and not names:
        raise KansymError("--elements needs at least one element, e.g. Sn,Pb (without it: every element of the run)")
    if names and not to_drip_line:
        raise KansymError("--elements goes with --to-drip-line; for a table of nuclei use --domain or --z/--n")
    if names and z is not None:
        raise KansymError("--to-drip-line takes its elements from --elements or from --z, not both")
    if out_file is not None and out_file.strip() == "-":
        raise KansymError("--out - : the table goes to standard output when --out is left out")
    if out_file is not None and not out_file.strip():
        raise KansymError("--out is empty: name the file the table goes to, e.g. --out masses.csv")
    output = None if out_file is None else Path(out_file)  # the text as typed: a trailing / names a folder
    if output is not None:
        if not out_file.strip() or output.is_dir() or out_file.endswith(("/", "\\", "/.", "/..")) \
                or out_file in (".", ".."):
            raise KansymError(f"--out {out_file[:80]!r} must name a file, not a directory")
        if (output.exists() or output.is_symlink()) and not force:
            raise KansymError(f"--out {output} exists; use --force to replace it")
        parent = output.parent if str(output.parent) else Path(".")
        problem = unwritable_dir(parent)
        if problem:
            raise KansymError(f"--out {output}: {problem}")
        if not parent.is_dir():  # a typo in the folder is not created silently
            raise KansymError(f"--out {output}: the folder {parent} does not exist; create it first")
        if output.exists() and not output.is_file():  # a device (/dev/full) or a FIFO, even with --force
            raise KansymError(f"--out {output} is not a regular file")
        if r.path.resolve() in (output.parent.resolve(), *output.parent.resolve().parents):
            raise KansymError(f"--out {output} lies inside the run {r.id}; write the table elsewhere")
        output_outside_runs(output.parent if str(output.parent) else Path("."), "--out")
        if output.suffix in (".json", ".tex") and all(output.with_suffix(x).is_file() for x in (".json", ".tex")):
            raise KansymError(f"--out {output} is half of a formula registry entry (NAME.json beside NAME.tex); "
                              "write the table elsewhere")
    sources = ("kan", "formula") if use == Use.both else (str(use),)
    result = predict_run(r.path, None if domain is None else str(domain), zr, nr, to_drip_line, sources, names)
    header = [f"kansym {__version__} predictions of run {r.id}: {result.domain}"] + [
        f"{s} uncertainty: {'the ensemble spread' if s == 'kan' else 'the constants covariance'} plus a model-error "
        f"term calibrated on {cal.basis} (kansym.checks.masstable, rule {cal.rule})"
        for s, cal in result.calibration.items() if s in sources]
    text = csv_text(result.table) if fmt == TableFormat.csv else ame_text(result.table, header)
    if output is None:
        out.file.write(text)
    else:
        write_files_together({output: text}, exclusive=not force,
                             exists_error=KansymError(f"--out {output} exists; use --force to replace it"))
    _predict_summary(r.id, result, output)


def _intact(run_dir) -> None:
    """Every check ``show`` makes, before a stage rerun rewrites part of the run: a run show would refuse (an edited
    network, a file that disagrees with it) is not rewritten into one it accepts."""
    from kansym.pipeline.registry import check_run

    check_run(run_dir)


def _predict_summary(run_id: str, result, output) -> None:
    """What was predicted, the model-error terms, drip lines and warnings, on stderr (stdout may hold the table)."""
    lines = [f"{len(result.table)} rows ({result.domain}) from run {_cell(run_id)}"
             + (f" -> {_cell(str(output))}" if output else "")]
    for s, cal in result.calibration.items():
        terms = ", ".join(f"{q} {v:.3f}" for q, v in cal.model_error.items() if v is not None)
        lines.append(f"{s}: model-error terms [MeV] {terms} (calibrated on {cal.basis})")
    for s, drip in (result.drip_lines or {}).items():
        shown = ", ".join(f"Z={int(z)}: N={'-' if d is None or d != d else int(d)}"
                          f"{' (no unbound nucleus in the table)' if u is None or u != u else ''}"
                          for z, d, u in zip(drip["Z"], drip["N_drip"], drip["N_first_unbound"]))
        lines.append(f"{s}: neutron drip line (last bound N) {shown}")
    lines += [f"warning: {note}" for note in result.notes]
    try:
        for line in lines:
            err.print(Text(line), highlight=False, soft_wrap=True)
    except OSError:
        pass


def _digit_separated(argv: list[str]) -> str | None:
    """Why a number given to a numeric option of the command in ``argv`` is refused, or None: Python reads
    '1_0' as 10, which nobody means by a count or an energy; such numbers are refused as --max-unc's are."""
    import typing

    def is_number(param) -> bool:  # an int or float option (Optional or not), as its annotation declares it
        ann = getattr(getattr(param, "type_descriptor", None), "annotation", None)
        kinds = set(typing.get_args(ann)) - {type(None)} if typing.get_origin(ann) is typing.Union else {ann}
        return bool(kinds) and kinds <= {int, float}

    command = typer.main.get_command(app)
    sub = getattr(command, "commands", {}).get(argv[0]) if argv else None
    if sub is None:
        return None
    numeric = {o for p in sub.params if is_number(p) for o in p.opts}
    for k, token in enumerate(argv):
        name, eq, value = token.partition("=")
        if name in numeric:
            value = value if eq else (argv[k + 1] if k + 1 < len(argv) else "")
            if "_" in value:
                return f"{name} takes a number in plain digits, got {value[:40]!r}"
    return None


def main() -> None:
    """Entry point of the ``kansym`` console script. A bad option is one line on stderr and exit code 2 (not
    click's three-line usage block); output that cannot be written (a closed pipe, a full device) ends the
    command with code 2 and one line, never a traceback at exit."""
    if "stdout" in _CLOSED:
        sys.stderr.write("Error: standard output is closed; kansym needs it for its results\n")
        raise SystemExit(2)
    streams.route_native_stdout()
    streams.terminate_as_interrupt()
    # NumPy's floating-point warnings (an overflow while a refused run's numbers are recomputed, ...) are not the
    # command's messages: what matters reaches the user as an error or a note
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    separated = _digit_separated(sys.argv[1:])
    if separated:
        _stderr_line(f"Error: {separated}")
        raise SystemExit(2)
    try:
        code = app(standalone_mode=False)
        code = code if isinstance(code, int) else 0
    except OSError as exc:  # --version or --help on an unusable stdout, before any command's handler
        _stderr_line(f"Error: {_os_message(exc)}")
        code = 2
    except typer.Abort:
        code = 130
    except typer.TyperException as exc:  # click's usage errors (typer's bundled click)
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":  # `kansym` alone: the help, as click shows it
            _stderr_line(exc.format_message())
        else:
            path = ctx.command_path if ctx is not None else ""
            where = f"{path}: " if " " in path else ""
            _stderr_line(f"Error: {where}{' '.join(exc.format_message().split())} (see --help)")
        code = getattr(exc, "exit_code", 2)
    except SystemExit as done:
        code = done.code
    except Exception:  # an interrupt that landed inside a library (an import cut short): still an interrupt
        if not streams.INTERRUPT["received"]:
            raise
        code = 130
    streams.ending(code)  # from here to the process's end a signal is remembered, not raised, and still reported
    if code in (0, None) and (streams.INTERRUPT["received"] or streams.ENDING["signalled"]):
        # its KeyboardInterrupt dropped, held back to the end, or a signal came as the command ended
        _stderr_line(streams.LATE_MESSAGE)
        code, streams.INTERRUPT["reported"] = 130, True
    if code == 130 and not streams.INTERRUPT["reported"]:
        command = next((a for a in sys.argv[1:] if not a.startswith("-")), "")
        _stderr_line("Interrupted; " + (
            "a run cut short leaves its partial output under .partial-* (`kansym runs --partial`, `kansym clean`); "
            "an update of a run leaves the run as it was" if command in ("discover", "sweep", "symbolic", "crosscheck",
                                                                          "extrapolate")
            else "each file is written whole or not at all"))
    try:
        sys.stdout.flush()
    except OSError as exc:
        if code in (0, None):  # a failed command has said why already
            _stderr_line(f"Error: cannot write the output: {exc.strerror or exc}")
            code = 2
        streams.silence_stdout()
    streams.ending(code)
    raise SystemExit(code)


def _stderr_line(text: str) -> None:
    try:
        sys.stderr.write(shortened(text) + "\n")
    except OSError:
        pass
