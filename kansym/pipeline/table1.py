"""Table 1 of the KAN-WS4 paper: sigma_pre and sigma_KAN (train / test) for several mass models."""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from kansym.checks import masstable
from kansym.nuclear import tables
from kansym.nuclear.nuclides import be_from_me
from kansym.pipeline.config import DiscoverConfig, load_dataset
from kansym.errors import KansymError
from kansym.network.execution import Execution, run_tasks
from kansym.pipeline.member import fit_member
from kansym.metrics import SPLITS, rms
from kansym.network.regressor import scratch_prefix
from kansym.pipeline.recipe import assemble_stage, collect_members, member_jobs
from kansym.runs.store import check_regular_targets, csv_text, unwritable_dir, write_files_together

# Lu et al., KAN-WS4: sigma_pre, sigma_KAN train, sigma_KAN test [MeV]. The paper's HFB row is HFB-31,
# a different model from the bundled HFB-27, so HFB-27 has no paper row.
PAPER_TABLE1 = {"ws4": (0.286, 0.157, 0.205), "dz28": (0.407, 0.174, 0.227), "frdm12": (0.586, 0.208, 0.273),
                "ktuy05": (0.715, 0.173, 0.234)}


def table1(models=tables.PAPER_MODELS, seeds: int = 1, base: DiscoverConfig | None = None, progress=None,
           execution: Execution | None = None) -> pd.DataFrame:
    """sigma_pre (model vs AME2020) and KAN-corrected sigmas for each model [MeV].

    With ``seeds`` > 1 the split seeds 0..seeds-1 are run as ``discover --seed S`` does (the ensemble's
    members are seeds S..); the sigma_KAN columns are medians over the split seeds, with their
    standard deviation (``*_spread``) and the per-seed values (``sigma_kan_test_per_seed``).
    """
    base = base or DiscoverConfig(target="residual")
    specs = [tables.check_model(name) for name in models]
    fits_of = {spec.name: [] for spec in specs}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=scratch_prefix("table1")) as tmp:
        # every member of every (model, split seed) fit is one task: a cluster runs them all at once
        plan, jobs = [], []
        for spec in specs:
            for split_seed in range(seeds):
                cfg = replace(base, target="residual", model=spec.name, seed=split_seed).resolved()
                ds = load_dataset(cfg)
                dirs, member = member_jobs(cfg, ds, Path(tmp) / f"{spec.name}-{split_seed}")
                plan.append((spec, split_seed, cfg, ds, dirs, len(jobs), len(jobs) + len(member)))
                jobs += member
        curves = run_tasks(fit_member, jobs, execution, progress=progress)
        for spec, split_seed, cfg, ds, dirs, a, b in plan:
            stage = assemble_stage(ds, collect_members(dirs, curves[a:b]), cfg.aggregate)
            p, y = stage.prediction, ds.y
            fits_of[spec.name].append({part: rms((y - p)[ds.mask(part)]) for part in SPLITS}
                                      | {"pre": rms(y), "n": len(ds.frame)} | differential_columns(cfg, stage))
    wall = time.perf_counter() - t0
    rows = []
    for spec in specs:
        fits = pd.DataFrame(fits_of[spec.name])
        med, sd = fits.median(), fits.std(ddof=1)  # std is NaN for a single seed
        paper = PAPER_TABLE1.get(spec.name, (None, None, None))
        rows.append({"model": spec.label, "n": int(fits["n"].iloc[0]), "sigma_pre": med["pre"],
                     "sigma_kan_train": med["train"],
                     "sigma_kan_test": med["test"], "sigma_kan_train_spread": sd["train"],
                     "sigma_kan_test_spread": sd["test"],
                     "sigma_kan_test_per_seed": " ".join(f"{v:.4f}" for v in fits["test"]),
                     **{c: med[c] for c in fits.columns if c.startswith(DIFFERENTIAL)},
                     "paper_sigma_pre": paper[0], "paper_sigma_kan_train": paper[1],
                     "paper_sigma_kan_test": paper[2], "seeds": seeds,
                     "wall_time_s": round(wall / len(specs), 1)})  # the fits run together: an even share
    return pd.DataFrame(rows)


DIFFERENTIAL = ("S_n", "S_2n", "Q_alpha")
"""Derived quantities whose RMS against AME2020 Table 1 gives beside the masses' (columns <q>_pre, <q>_kan over
all pairs of the fit's nuclei, <q>_kan_test over pairs whose both masses are held out) [MeV]."""


def differential_columns(cfg, stage) -> dict:
    """RMS of S_n, S_2n, Q_alpha of the mass model alone and corrected by the KAN, against AME2020 [MeV]."""
    ds = stage.dataset
    own, _ = masstable.surfaces(cfg, stage, None, ds.frame[["Z", "N"]], ("kan",))
    f = ds.frame
    model = masstable.Surface("model", f["Z"].to_numpy(), f["N"].to_numpy(),
                              np.asarray(be_from_me(f["Z"], f["N"], f["ME_model"]), dtype=np.float64))
    split = f["split"].to_numpy()
    pre, kan = masstable.differential_rms(model, split), masstable.differential_rms(own["kan"], split)
    out = {}
    for q in DIFFERENTIAL:
        out[f"{q}_pre"] = pre.get(q, {}).get("all")
        out[f"{q}_kan"] = kan.get(q, {}).get("all")
        out[f"{q}_kan_test"] = kan.get(q, {}).get("test")
    return {k: (float("nan") if v is None else v) for k, v in out.items()}


def table1_latex(df: pd.DataFrame) -> str:
    """booktabs LaTeX for a table1() frame."""
    def f(x, spread=None):
        if x is None or x != x:
            return "--"
        return f"{x:.3f}" if spread is None or spread != spread else f"${x:.3f} \\pm {spread:.3f}$"
    lines = ["\\begin{tabular}{lrrrrrr}", "\\toprule",
             " & \\multicolumn{3}{c}{kansym} & \\multicolumn{3}{c}{KAN-WS4 paper} \\\\",
             "Model & $\\sigma_\\text{pre}$ & $\\sigma_\\text{KAN}^\\text{train}$ & $\\sigma_\\text{KAN}^\\text{test}$ & "
             "$\\sigma_\\text{pre}$ & $\\sigma_\\text{KAN}^\\text{train}$ & $\\sigma_\\text{KAN}^\\text{test}$ \\\\",
             "\\midrule"]
    for r in df.itertuples():
        lines.append(f"{r.model} & {f(r.sigma_pre)} & {f(r.sigma_kan_train, r.sigma_kan_train_spread)} & "
                     f"{f(r.sigma_kan_test, r.sigma_kan_test_spread)} & "
                     f"{f(r.paper_sigma_pre)} & {f(r.paper_sigma_kan_train)} & {f(r.paper_sigma_kan_test)} \\\\")
    seeds = int(df["seeds"].max()) if len(df) else 1
    note = f"; kansym: median +- standard deviation over split seeds 0-{seeds - 1}" if seeds > 1 else ""
    lines += ["\\bottomrule", "\\end{tabular}", f"% RMS deviations in MeV{note}; HFB-27 is not the paper's HFB-31.", ""]
    return "\n".join(lines)


def _already_there(out_dir: Path) -> KansymError:
    return KansymError(f"{out_dir} already holds table1.csv/table1.tex; use --force to replace them "
                       "or --out-dir for a new directory")


def check_out_dir(out_dir: Path, force: bool = False) -> tuple[Path, Path]:
    """The two output paths in ``out_dir``; refuse to replace existing ones unless ``force``."""
    out_dir = Path(out_dir)
    problem = unwritable_dir(out_dir)
    if problem:
        raise KansymError(f"--out-dir {out_dir} {problem}")
    csv, tex = out_dir / "table1.csv", out_dir / "table1.tex"
    if not force and any(p.exists() or p.is_symlink() for p in (csv, tex)):
        raise _already_there(out_dir)
    check_regular_targets((csv, tex))  # as the writer refuses them, but before the training
    return csv, tex


def write_table1(df: pd.DataFrame, out_dir: Path, force: bool = False) -> tuple[Path, Path]:
    """table1.csv and table1.tex in ``out_dir``, written together (both or neither); existing ones are kept unless
    ``force``."""
    csv, tex = check_out_dir(out_dir, force)
    write_files_together({csv: csv_text(df), tex: table1_latex(df)}, exclusive=not force,
                         exists_error=_already_there(out_dir))
    return csv, tex
