"""Cross-check a run's KAN formula with an independent symbolic-regression engine.

Two engines share one interface: PySR (needs a Julia runtime; run in a child process so that
juliacall is never imported after torch) and pyoperon (offline, C++). Engine formulas are parsed
through a whitelist (:mod:`kansym.symbolic.exprparse`), their constants refitted in float64 exactly like the
KAN formula's, and compared: accuracy, size, symbolic or numerical equivalence, and divergence on
the next nuclei beyond the last measured one on each isotopic chain.
"""

from __future__ import annotations

import math
import re

import csv
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import sympy as sp

from kansym.errors import KansymError
from kansym.symbolic.exprparse import parse_equation
from kansym.symbolic.formula import Formula, check_finite, parameterize, refit, variable_symbols
from kansym.symbolic.latex import expression_lines, tex_escape
from kansym.symbolic.srepr_reader import parse_srepr
from kansym.metrics import rms, rmse_by_split
from kansym.nuclear.nuclides import chain_nuclei
from kansym.safeio import read_text_bounded
from kansym.nuclear.targets import SUBSETS

ENGINES = ("auto", "pyoperon", "pysr")
DEFAULT_MAXSIZE = 30  # largest expression size of a search
MAX_HOF_BYTES = 10_000_000
MAX_HOF_ROWS = 100  # a PySR hall of fame holds one equation per complexity (at most maxsize rows)
MAX_HOF_CHARS = 20_000  # all its equations together
MAX_ENGINE_CONSTANTS = 40  # numbers in an engine formula that kansym refits
OPERATORS = "add,sub,mul,div,constant,variable,sqrt,cbrt,square,exp,log"


@dataclass(frozen=True)
class EngineFormula:
    """One formula of an engine's Pareto front (numeric SymPy expression in the feature symbols)."""

    expr: sp.Expr
    complexity: int
    loss: float
    text: str


@dataclass(frozen=True)
class EngineResult:
    engine: str
    front: tuple[EngineFormula, ...]
    selected: int
    wall_s: float


def _scale(y: np.ndarray) -> tuple[float, float]:
    sd = float(np.std(y))
    return float(np.mean(y)), sd if sd > 0 else 1.0


DEFAULT_GENERATIONS = 50
"""Default search length: a fixed number of generations (iterations for PySR) makes a search with a given
seed reproducible on any machine; a wall-clock budget does not, and is only used when asked for."""


class Engine:
    """Engine settings: search time cap [s] (None: none), largest expression size, seed, generations.
    Subclasses implement ``available()`` and ``fit(X, y, names) -> EngineResult``."""

    name = "engine"

    def __init__(self, time_budget: float | None = None, maxsize: int = DEFAULT_MAXSIZE, seed: int = 0,
                 generations: int = DEFAULT_GENERATIONS):
        self.time_budget = time_budget
        self.maxsize = maxsize
        self.seed = seed
        self.generations = generations


class PyOperonEngine(Engine):
    """pyoperon's SymbolicRegressor with constant optimisation on and a float32-safe scaled target."""

    name = "pyoperon"

    @staticmethod
    def available() -> tuple[bool, str]:
        if importlib.util.find_spec("pyoperon") is None:
            return False, "pyoperon is not installed: pip install pyoperon"
        return True, ""

    def fit(self, X: np.ndarray, y: np.ndarray, names) -> EngineResult:
        from pyoperon.sklearn import SymbolicRegressor

        mu, sd = _scale(y)  # Operon evaluates in float32: fit (y - mu) / sd
        t0 = time.perf_counter()
        reg = SymbolicRegressor(allowed_symbols=OPERATORS, optimizer_iterations=10, max_length=self.maxsize,
                                max_time=86400 if self.time_budget is None else max(1, int(round(self.time_budget))),
                                generations=self.generations,
                                max_evaluations=10**9, n_threads=1, random_state=self.seed,
                                objectives=["r2", "length"])
        reg.fit(np.asarray(X, dtype=np.float64), (np.asarray(y, dtype=np.float64) - mu) / sd)
        wall = time.perf_counter() - t0
        symbols = dict(zip(_safe_names(names), variable_symbols(names)))
        front, texts = [], []
        for item in reg.pareto_front_:
            text = reg.get_model_string(item["tree"], 12, list(symbols))
            try:
                expr = sp.Float(sd) * parse_equation(text, symbols) + sp.Float(mu)
            except KansymError:  # e.g. a division by a constant zero: not a formula
                continue
            front.append(EngineFormula(expr, int(item["length"]), float(item["mean_squared_error"]) * sd * sd, text))
            texts.append(text)
        best = reg.get_model_string(reg.model_, 12, list(symbols))
        if best in texts:
            selected = texts.index(best)
        else:
            try:
                front.append(EngineFormula(sp.Float(sd) * parse_equation(best, symbols) + sp.Float(mu), 0,
                                           float("nan"), best))
                selected = len(front) - 1
            except KansymError:
                if not front:
                    raise KansymError("pyoperon returned no formula that can be read") from None
                selected = int(np.argmin([f.loss for f in front]))
        return EngineResult(self.name, tuple(front), selected, wall)


def _julia_runtime() -> str | None:
    return os.environ.get("PYTHON_JULIAPKG_EXE") or shutil.which("julia")


class PySREngine(Engine):
    """PySR in a child process (juliacall must not be imported after torch in one process)."""

    name = "pysr"

    @staticmethod
    def available() -> tuple[bool, str]:
        if importlib.util.find_spec("pysr") is None:
            return False, ("PySR is not installed: pip install 'kansym[pysr]' (it also needs a Julia runtime with "
                           "SymbolicRegression.jl); use --engine pyoperon offline")
        if _julia_runtime() is None:
            return False, ("PySR needs a Julia runtime, and none was found (no `julia` on PATH, PYTHON_JULIAPKG_EXE "
                           "unset); install Julia, or use --engine pyoperon")
        return True, ""

    def fit(self, X: np.ndarray, y: np.ndarray, names) -> EngineResult:
        ok, why = self.available()
        if not ok:
            raise KansymError(why)
        with tempfile.TemporaryDirectory(prefix="kansym-pysr-") as tmp:
            arrays = json.dumps({"X": np.asarray(X, dtype=np.float64).tolist(),
                                 "y": np.asarray(y, dtype=np.float64).tolist()})
            script = PYSR_SCRIPT.format(tmp=tmp, names=list(_safe_names(names)), maxsize=self.maxsize,
                                        budget=self.time_budget, seed=self.seed, generations=self.generations)
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", script], input=arrays, capture_output=True, text=True,
                                  timeout=None if self.time_budget is None else self.time_budget * 3 + 300)
            if proc.returncode != 0:
                raise KansymError(f"PySR failed: {proc.stderr.strip()[-800:]}")
            result = import_hof(Path(tmp) / "hall_of_fame.csv", names)
            return EngineResult(self.name, result.front, result.selected, time.perf_counter() - t0)


PYSR_SCRIPT = """
import json, sys
import numpy as np
from pysr import PySRRegressor
data = json.loads(sys.stdin.read())  # the training arrays, exactly (JSON floats round-trip)
X = np.array(data["X"], dtype=np.float64); y = np.array(data["y"], dtype=np.float64)
mu, sd = y.mean(), y.std() or 1.0
m = PySRRegressor(binary_operators=["+", "-", "*", "/", "^"], unary_operators=["sqrt", "cbrt", "square", "exp", "log"],
                  maxsize={maxsize}, timeout_in_seconds={budget}, niterations={generations}, precision=64, parsimony=1e-4,
                  random_state={seed}, deterministic=True, parallelism="serial", output_directory="{tmp}/out")
m.fit(X, (y - mu) / sd, variable_names={names})
eq = m.equations_
with open("{tmp}/hall_of_fame.csv", "w") as fh:
    fh.write("Complexity,Loss,Equation\\n")
    for c, l, e in zip(eq["complexity"], eq["loss"], eq["equation"]):
        fh.write(f'{{c}},{{l * sd * sd}},"{{sd}} * ({{e}}) + {{mu}}"\\n')
"""


def _safe_names(names) -> tuple[str, ...]:
    return tuple(s.name for s in variable_symbols(names))


def _mixes_names(equation: str, names) -> bool:
    """Whether an equation uses both positional variable names (x0, x1, ...) and the features' own names."""
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", equation))
    positional = {w for w in words if re.fullmatch(r"x\d+", w)}
    return bool(positional) and bool(words & (set(_safe_names(names)) - positional))


def _hof_int(text) -> int:
    """A hall of fame's Complexity: a whole number in 1 .. 10000 written in ASCII digits."""
    t = str(text).strip()
    if not (t.isascii() and t.isdecimal() and len(t) <= 5 and 1 <= int(t) <= 10_000):
        shown = t if len(t) <= 20 else f"{t[:12]}... ({len(t)} characters)"
        raise ValueError(f"Complexity {shown!r} is not a whole number in 1 .. 10000")
    return int(t)


_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)


def _hof_loss(text) -> float:
    """A hall of fame's Loss: a finite number >= 0 written as a plain decimal (ASCII digits, point, exponent)."""
    t = str(text).strip()
    value = float(t) if _DECIMAL.fullmatch(t) else float("nan")
    if not (np.isfinite(value) and value >= 0):
        raise ValueError(f"Loss {t[:20]!r} is not a finite number >= 0")
    return value


def import_hof(path: Path, names) -> EngineResult:
    """Read a PySR ``hall_of_fame.csv`` (columns Complexity, Loss, Equation; Julia syntax) without Julia.

    Variables may be the feature names or x0, x1, ... in feature order. The lowest-loss equation
    with the best loss-per-complexity drop (PySR's 'score' rule) is selected.
    """
    path = Path(path)
    if len(set(names)) != len(names):
        raise KansymError(f"the variable names {', '.join(map(str, names))[:80]} repeat a name")
    syms = variable_symbols(names)
    allowed = dict(zip(_safe_names(names), syms)) | {f"x{i}": s for i, s in enumerate(syms)}
    front, chars = [], 0
    try:
        text = read_text_bounded(path, MAX_HOF_BYTES, what="hall of fame").removeprefix("\ufeff")  # a BOM
        with io.StringIO(text, newline="") as fh:
            reader = csv.DictReader(fh, strict=True)
            header = list(reader.fieldnames or ())
            missing = {"Complexity", "Loss", "Equation"} - set(header)
            if missing:
                raise KansymError(f"{path}: not a PySR hall of fame (missing columns {', '.join(sorted(missing))})")
            if len(set(header)) != len(header) or not all(h.strip() for h in header):
                raise KansymError(f"{path}: its header names a column twice or has an empty column name")
            for row_no, row in enumerate(reader, start=2):
                if row_no - 1 > MAX_HOF_ROWS:
                    raise KansymError(f"{path}: more than {MAX_HOF_ROWS} equations; a PySR hall of fame holds one "
                                      "per complexity")
                if None in row or None in row.values():
                    n = sum(v is not None for k, v in row.items() if k is not None) + len(row.get(None) or ())
                    raise KansymError(f"{path} row {row_no}: {n} fields where the header has {len(header)}")
                if any(c in row["Equation"] for c in "\r\n"):
                    raise KansymError(f"{path} row {row_no}: the equation spans several lines")
                chars += len(row["Equation"] or "")
                if chars > MAX_HOF_CHARS:
                    raise KansymError(f"{path}: its equations hold more than {MAX_HOF_CHARS} characters; a PySR "
                                      f"hall of fame of expressions up to size {MAX_SIZE} holds far fewer")
                if _mixes_names(row["Equation"], names):
                    raise KansymError(f"{path} row {row_no}: the equation mixes positional names (x0, x1, ...) with "
                                      "feature names; PySR writes one or the other")
                try:
                    front.append(EngineFormula(parse_equation(row["Equation"], allowed), _hof_int(row["Complexity"]),
                                               _hof_loss(row["Loss"]), row["Equation"]))
                except (KansymError, ValueError, TypeError) as exc:
                    raise KansymError(f"{path} row {row_no}: {exc}") from None
    except csv.Error as exc:
        raise KansymError(f"{path}: malformed CSV ({exc})") from None
    except OSError as exc:
        raise KansymError(f"cannot read {path}: {exc.strerror}") from None
    if not front:
        raise KansymError(f"{path}: no equations")
    sizes = [f.complexity for f in front]
    if len(set(sizes)) != len(sizes):
        raise KansymError(f"{path}: complexity {next(c for c in sizes if sizes.count(c) > 1)} appears twice; a PySR "
                          "hall of fame holds one equation per complexity")
    front.sort(key=lambda f: f.complexity)
    scores = [0.0] + [(-np.log(max(b.loss, 1e-300)) + np.log(max(a.loss, 1e-300))) / max(b.complexity - a.complexity, 1)
                      for a, b in zip(front, front[1:])]
    return EngineResult("pysr-hof", tuple(front), int(np.argmax(scores)), 0.0)


MAX_SIZE = 200
"""Largest expression size an engine may search (larger sizes only make the search slower)."""


def check_engine_options(name: str, time_budget: float | None = None, maxsize: int = DEFAULT_MAXSIZE, seed: int = 0,
                         generations: int = DEFAULT_GENERATIONS) -> None:
    """The cross-check's options, checked whether or not an engine will run (before any work)."""
    if name not in ENGINES:
        raise KansymError(f"unknown engine {name!r}; valid choices: {', '.join(ENGINES)}")
    if isinstance(generations, bool) or not (isinstance(generations, (int, np.integer)) and 1 <= generations <= 100_000):
        raise KansymError(f"the cross-check's generations (--generations, --crosscheck-generations) must lie in "
                          f"1 .. 100000, got {generations}")
    if time_budget is not None and not 0 < time_budget <= 86400:
        raise KansymError(f"--time-budget must be a number of seconds in (0, 86400], got {time_budget}")
    if not 3 <= maxsize <= MAX_SIZE:
        raise KansymError(f"--maxsize must lie in 3 .. {MAX_SIZE}, got {maxsize}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= 2**32 - 1:
        raise KansymError(f"--seed must lie in 0 .. 2^32-1, got {seed}")


def make_engine(name: str, time_budget: float | None = None, maxsize: int = DEFAULT_MAXSIZE, seed: int = 0,
                generations: int = DEFAULT_GENERATIONS):
    """An engine by name; 'auto' is PySR when its runtime is present, else pyoperon."""
    check_engine_options(name, time_budget, maxsize, seed, generations)
    if name == "auto":
        name = "pysr" if PySREngine.available()[0] else "pyoperon"
    cls = PySREngine if name == "pysr" else PyOperonEngine
    ok, why = cls.available()
    if not ok:
        raise KansymError(why)
    return cls(time_budget, maxsize, seed, generations)


# --------------------------------------------------------------------------- comparison

def extrapolation_set(nuclei: pd.DataFrame, beyond: int = 10) -> pd.DataFrame:
    """For each isotopic chain in ``nuclei``, the next ``beyond`` nuclei past its most neutron-rich member
    (N in steps of 2 for even-even selections, else 1)."""

    step = 2 if SUBSETS["even-even"](nuclei["Z"], nuclei["N"]).all() else 1
    chains = [chain_nuclei(z, nuclei, beyond, step) for z in sorted(nuclei["Z"].unique())]
    out = pd.concat(chains, ignore_index=True)
    return out.loc[out["distance"] > 0, ["Z", "N"]].reset_index(drop=True)


def _score(formula: Formula, ds, masks) -> dict:
    pred = formula.evaluate(ds.X)
    return rmse_by_split(pred, ds.y, masks)


def _refit_engine(f: EngineFormula, names, ds, masks) -> Formula | str:
    """The engine formula with its constants (one per engine constant) refitted in float64, or the reason
    it could not be."""
    numbers = sum(1 for a in sp.preorder_traversal(f.expr) if a.is_Number and a not in (0, 1, -1))
    if numbers > MAX_ENGINE_CONSTANTS:
        return (f"not refitted: {numbers} numbers in the expression, more than the {MAX_ENGINE_CONSTANTS} constants "
                "kansym refits for an engine formula")
    pexpr, init = parameterize(f.expr, shared=True)
    try:
        F = refit(pexpr, init, names, ds.X[masks["train"]], ds.y[masks["train"]], max_nfev=500,
                  sample_weight=None if ds.w is None else ds.w[masks["train"]])
        check_finite(F, ds.X)
        return F
    except KansymError as exc:
        return str(exc)


def rounded(expr: sp.Expr, digits: int = 4, decimal: bool = True) -> sp.Expr:
    """An expression with its numbers rounded to ``digits`` significant decimal digits, for tables (each held exactly
    as a float: 0.6016143 -> 0.6016). Reports of layouts before 4 rounded in binary (``decimal`` false: SymPy's
    Float(f, 4), about 14 bits), which a table printing five digits showed with a wrong fifth digit."""
    if not decimal:
        return expr.xreplace({f: sp.Float(f, digits) for f in expr.atoms(sp.Float)})
    return expr.xreplace({f: sp.Float(float(f"{float(f):.{digits}g}")) for f in expr.atoms(sp.Float)})


def shown_numbers(F: Formula, layout: int | None = None) -> dict:
    """How a report row shows formula ``F``: its numbers rounded as reports of ``layout`` (this version's by
    default) round them."""
    e = rounded(F.numeric_expr(), decimal=(layout or TEX_LAYOUT) >= 4)
    return {"numeric_expression": str(e), "numeric_latex": sp.latex(e), "numeric_srepr": sp.srepr(e)}


def equivalence(a: Formula, b: Formula, X: np.ndarray, tol_mev: float) -> dict:
    """Symbolic (SymPy simplify of the difference, asked only when the RMS difference is within ``tol_mev``) and
    numerical (RMS difference on X) equivalence."""
    diff = rms(a.evaluate(X) - b.evaluate(X))
    symbolic = False
    # formulas that differ numerically cannot be equal symbolically; SymPy's simplify has no time limit, so it is
    # only asked about numerically equal formulas of moderate size
    delta = a.numeric_expr() - b.numeric_expr()
    if diff <= tol_mev and sp.count_ops(delta) <= 200:
        try:
            symbolic = bool(sp.simplify(delta) == 0)
        except (TypeError, ValueError, RecursionError):
            symbolic = False
    return {"symbolic": symbolic, "rms_difference_mev": diff, "numerical": diff <= tol_mev, "tolerance_mev": tol_mev}


def far_fields(judge, F: Formula) -> dict:
    """Far-extrapolation sanity and deviation of a formula (empty without a judge)."""
    if judge is None:
        return {}
    rep = judge.report(F.evaluate(judge.X))
    ref = next(iter(rep["deviation_mev"]))
    return {"far_passed": rep["passed"], "far_failures": rep["failures"],
            f"far_rms_vs_{ref}_beyond_mev": rep["deviation_mev"][ref]["rms_beyond"],
            f"far_max_vs_{ref}_beyond_mev": rep["deviation_mev"][ref]["max_abs_beyond"]}


REPORT_FIELDS = frozenset({"engine", "engine_wall_s", "rows", "n_extrapolation_nuclei", "tex_layout", "equivalence",
                           "extrapolation_rms_difference_mev", "run_id", "time_budget_s", "maxsize", "seed",
                           "generations"})
"""The fields of a cross-check report (crosscheck.json)."""
ROW_FIELDS = frozenset({"formula", "engine", "n_constants", "size", "rmse_mev", "expression", "numeric_expression",
                        "numeric_latex", "numeric_srepr", "selected", "far_passed", "far_failures", "engine_expression",
                        "engine_complexity", "engine_loss_mev2", "refit_failed", "refitted",
                        "extrapolation_rms_vs_kan_mev"})
"""The fields of a report's row, beside the far check's deviations ``far_rms_vs_<table>_beyond_mev`` and
``far_max_vs_<table>_beyond_mev``."""
FAILED_ROW_FIELDS = frozenset({"formula", "engine", "engine_expression", "engine_complexity", "engine_loss_mev2",
                               "selected", "n_constants", "size", "refit_failed", "rmse_mev"})
"""The fields of a row whose refit failed: the engine's formula and the reason, no numbers of its own."""


def compare(kan: Formula, result: EngineResult, ds, names, extrap_X: np.ndarray, tol_mev: float = 0.1,
            judge=None) -> dict:
    """Plain-data comparison of the KAN formula with an engine's front and selected formula.

    With a far-extrapolation ``judge`` (``kansym.checks.farcheck``) every formula is also judged over the
    reference table's whole range, and the engine's selected formula is its most accurate one
    (train RMSE) among those that pass, as for kansym's own choice."""
    masks = ds.masks()
    kan_ex = kan.evaluate(extrap_X)
    rows = [{"formula": "KAN", "engine": "kansym", "n_constants": kan.n_constants, "size": kan.size,
             "rmse_mev": _score(kan, ds, masks), "expression": str(kan.expr),
             **shown_numbers(kan), "selected": True, **far_fields(judge, kan)}]
    refitted = {}  # row index -> refitted formula; every member of the engine's front gets a row
    for i, f in enumerate(result.front):
        F = _refit_engine(f, names, ds, masks)
        row = {"formula": f"{result.engine}[{i}]", "engine": result.engine, "engine_expression": f.text,
               "engine_complexity": f.complexity, "engine_loss_mev2": f.loss, "selected": False}
        if isinstance(F, str):
            rows.append({**row, "n_constants": None, "size": None, "refit_failed": F,
                         "rmse_mev": {k: float("nan") for k in masks}})
            continue
        ex = F.evaluate(extrap_X)
        refitted[len(rows)] = F
        rows.append({**row, "n_constants": F.n_constants, "size": F.size, "rmse_mev": _score(F, ds, masks),
                     "expression": str(F.expr), **shown_numbers(F), "refitted": F.to_dict(),
                     "extrapolation_rms_vs_kan_mev": rms(ex - kan_ex) if np.isfinite(ex).all() else float("inf"),
                     **far_fields(judge, F)})
    # the engine's selected formula: its most accurate one on the training nuclei after the float64 refit
    # (among those passing the far-extrapolation check, if any does)
    selected_formula = None
    if refitted:
        sane = {k: rows[k].get("far_passed", True) for k in refitted}
        k = min(refitted, key=lambda k: (not (sane[k] or not any(sane.values())), rows[k]["rmse_mev"]["train"], k))
        rows[k]["selected"] = True
        selected_formula = refitted[k]
    out = {"engine": result.engine, "engine_wall_s": round(result.wall_s, 1), "rows": rows,
           "n_extrapolation_nuclei": int(len(extrap_X)), "tex_layout": TEX_LAYOUT}
    if selected_formula is not None:
        out["equivalence"] = equivalence(kan, selected_formula, ds.X, tol_mev)
        out["extrapolation_rms_difference_mev"] = rms(selected_formula.evaluate(extrap_X) - kan_ex)
    return out


TEX_LAYOUT = 5
"""``tex_layout`` of the reports this version writes: crosscheck.tex shows the engine's refitted front (at most
:data:`MAX_TEX_ROWS` formulas) with expressions cut into lines, numbers rounded to 4 significant decimal digits, a
dagger on each formula failing the far-extrapolation check, and a caption that says so when the selected formula
fails it too (none passes); the caption names the seed and largest size only of a search (layout 2 named them for an
imported hall of fame too; layouts 2 and 3 rounded in binary, so their tables' fifth digit can be off by a few units;
layouts 2-4 marked no failing formula and always called the selected one passing; all are still read).
Reports of earlier versions (without it, some without the refitted formulas that let every row be recomputed) are
refused: ``kansym crosscheck`` makes them again."""
TEX_LAYOUTS_READ = (2, 3, 4, TEX_LAYOUT)

MAX_TEX_ROWS = 6
"""Engine formulas crosscheck.tex shows (the selected one always; the rest in the front's order); the others are
in crosscheck.json."""

TEX_LINE_BUDGET = 24
"""Characters of mathematics per line of the table's expression column (0.45 of the text width at small size)."""

MAX_TEX_LINES = 5
"""Lines of one expression in crosscheck.tex; a longer one ends with its first lines and a pointer to the JSON."""


def _row_lines(row: dict) -> list[str]:
    """The refitted expression of a report row (its ``numeric_srepr``, read by the whitelisting reader) in LaTeX
    lines; Z and N are positive there, so that |N| and sign(N) read as N and 1."""
    expr = parse_srepr(row["numeric_srepr"], f"crosscheck.json row {tex_escape(str(row.get('formula')))[:40]}")
    positive = {s: sp.Symbol(s.name, positive=True) for s in expr.free_symbols if s.name in ("Z", "N")}
    expr = expr.xreplace(positive)
    lines = expression_lines(expr, TEX_LINE_BUDGET, settings={"fold_frac_powers": True, "root_notation": False})
    if len(lines) > MAX_TEX_LINES:  # \Bigl( ... \Bigr) may span the cut: the shown lines close what they open
        shown = lines[:MAX_TEX_LINES - 1]
        opened = sum(ln.count("\\Bigl(") - ln.count("\\Bigr)") for ln in shown)
        shown[-1] += " \\Bigr)" * opened + " + \\ldots"
        return [*shown, f"\\text{{({len(lines)} lines: crosscheck.json)}}"]
    return lines


def crosscheck_tex(report: dict) -> str:
    """crosscheck.tex of a comparison report: a ``table*`` of the KAN formula and the engine's refitted front (at
    most :data:`MAX_TEX_ROWS` of its formulas, the selected one among them; failed refits only in the JSON), each
    expression cut into lines that fit its column, with a caption saying what was compared. Numbers reach LaTeX
    only as numbers formatted here and expressions only through SymPy's printer."""
    if report.get("tex_layout") not in TEX_LAYOUTS_READ:
        raise KansymError("crosscheck.json was written by an earlier kansym version, whose rows cannot all be "
                          "checked: run `kansym crosscheck RUN` to make it again")
    rows = report["rows"]
    engine = [r for r in rows[1:] if r.get("numeric_srepr") is not None]
    failed = sum(1 for r in rows[1:] if r.get("numeric_srepr") is None)
    shown = [r for r in engine if r.get("selected")]
    shown += [r for r in engine if not r.get("selected")][:MAX_TEX_ROWS - len(shown)]
    shown = sorted(shown, key=engine.index)
    left = len(engine) - len(shown)
    marks = report["tex_layout"] >= 5  # earlier layouts marked no failing formula

    def fails(r):
        return marks and r.get("far_passed") is False

    chosen = next((r for r in engine if r.get("selected")), None)
    selected = ("$^*$ the selected formula (none passes the far-extrapolation check: the most accurate on the "
                "training nuclei)" if chosen is not None and fails(chosen) else
                "$^*$ the selected formula (the most accurate on the training nuclei among those passing the "
                "far-extrapolation check)")
    caption = (f"{_compared(report)}: the engine's Pareto front with its constants refitted in double "
               "precision on the same training nuclei"
               + (f" ({len(shown)} of its {len(engine)} formulas; all in crosscheck.json)" if left else "")
               + (f"; {failed} that could not be refitted are listed in crosscheck.json" if failed else "")
               + f". $k$: constants; RMSE in MeV; {selected}"
               + ("; $^\\dagger$ fails the far-extrapolation check" if any(fails(r) for r in shown) else "") + ".")
    lines = ["\\begin{table*}[tbp]", "\\centering", "\\small", "\\setlength{\\tabcolsep}{4pt}",
             f"\\caption{{{caption}}}", "\\label{tab:crosscheck}",
             "\\begin{tabular}{lrrrrp{0.45\\textwidth}}", "\\toprule",
             "Formula & $k$ & Size & \\multicolumn{2}{c}{RMSE} & Expression \\\\",
             " & & & train & test & \\\\", "\\midrule"]
    for r in [rows[0], *shown]:
        name = tex_escape(str(r["formula"])) + ("$^*$" if r.get("selected") and r is not rows[0] else "") \
            + ("$^\\dagger$" if r is not rows[0] and fails(r) else "")
        rm = [_number(r["rmse_mev"].get(k)) for k in ("train", "test")]
        expr = " \\newline ".join(f"${ln}$" for ln in _row_lines(r))
        lines.append(f"{name} & {_whole(r['n_constants'])} & {_whole(r['size'])} & {rm[0]} & {rm[1]} & {expr} \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table*}", ""]
    return "\n".join(lines)


def _compared(report: dict) -> str:
    """The start of crosscheck.tex's caption: what was compared and how the engine searched (text from the report
    escaped, numbers formatted here)."""
    search = (f"{_whole(report['generations'])} generations" if report.get("generations")
              else "an imported hall of fame")
    if report.get("time_budget_s"):
        search += f", at most {float(report['time_budget_s']):g} s"
    if report.get("generations") or report.get("tex_layout") == 2:  # layout 2 named them for an import too
        search += f", seed {_whole(report.get('seed', 0))}, largest size {_whole(report.get('maxsize', 0))}"
    return (f"Cross-check of the KAN formula of run {tex_escape(str(report.get('run_id', '')))} with "
            f"{tex_escape(str(report['engine']))} ({search})")


def _whole(value) -> int:
    """A count of a report, as a number (never text from the file)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise KansymError(f"crosscheck.json: expected a whole number, got {str(value)[:40]!r}")
    return value


def _number(value) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "--"
    return f"{value:.3f}"
