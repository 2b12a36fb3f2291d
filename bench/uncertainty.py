"""Coverage of the predictive uncertainty (``kansym.checks.masstable``) with the user's defaults.

Commands, seeds S = 0..4 (each exactly what a user types; nothing else changed):
  kansym discover --target be --subset even-even --seed S                 (the main job: KAN and formula)
  kansym discover --target residual --model ws4 --seed S                  (KAN-WS4: the ensemble and its formula)
and the same two with ``--split new-in-ame2020`` (train on the AME2016 masses, hold out the nuclei new in AME2020).
For each run and source (kan, formula) the coverage metrics.json records (calibration rule: the docstring of
``kansym.checks.masstable``): the fractions of held-out nuclei within 1 and 2 predictive sigma -- for the KAN each half
of the held-out nuclei judged with the model-error term calibrated on the other half (cross-calibrated), for the
formula judged with the term calibrated on its cross-validation residuals of the training nuclei -- for BE and the
derived quantities; the differential RMS (S_n, S_2n, Q_alpha, ... against
AME2020) of each source and, for KAN-WS4, of WS4 itself on the same pairs; the wall time of
``kansym predict RUN --domain frdm12`` for the seed-0 KAN-WS4 run (target <= 20 s). Targets (issue "predictions"): BE coverage within
[0.60, 0.78] at 1 sigma and [0.90, 0.98] at 2 sigma for the default KAN-WS4 ensemble and the default formula, on the
random test nuclei and on the nuclei new in AME2020. A coverage depends on the seed: it is judged by its median over
the seeds, and the seeds inside the band are counted beside it. The binomial standard error of a fraction p over n
nuclei, sqrt(p (1 - p) / n), is printed with it: 0.045 at 1 sigma over 108 test nuclei, 0.065 over the 51 nuclei new
in AME2020 in the KAN-WS4 selection, 0.14 over the 11 new even-even nuclei with Z, N >= 30 (where a band of width
0.18 cannot be judged).
"""

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _common import scratch_runs, write_result

from kansym.checks import masstable
from kansym.nuclear.nuclides import be_from_me
from kansym.pipeline.config import DiscoverConfig, load_dataset
from kansym.pipeline.discovery import discover

SEEDS = range(5)
BAND = {"within_1_sigma": (0.60, 0.78), "within_2_sigma": (0.90, 0.98)}
SETTINGS = {
    "be_random": dict(target="be", subset="even-even"),
    "residual_random": dict(target="residual", model="ws4"),
    "be_new": dict(target="be", subset="even-even", split="new-in-ame2020"),
    "residual_new": dict(target="residual", model="ws4", split="new-in-ame2020"),
}
QUANTITIES = ("BE", "S_2n", "Q_alpha", "S_n")

only = sys.argv[1:] or list(SETTINGS)
out = {"commands": {k: "kansym discover " + " ".join(f"--{a} {v}" for a, v in s.items()) + " --seed S"
                    for k, s in SETTINGS.items()},
       "targets": {"BE": BAND, "applies_to": "kan of residual_*, formula of be_*"}, "settings": {}}
for name in only:
    rows = []
    for seed in SEEDS:
        t = time.perf_counter()
        r = discover(DiscoverConfig(**SETTINGS[name], seed=seed, runs_dir=scratch_runs()))
        row = {"seed": seed, "wall_s": round(time.perf_counter() - t, 1)}
        for source, cal in r.metrics["predictive_uncertainty"].items():
            row[source] = {"model_error_mev": {q: cal["model_error_mev"].get(q) for q in QUANTITIES},
                           "coverage": {q: cal["coverage"][q] for q in QUANTITIES if q in cal["coverage"]},
                           "calibrated_on": cal["calibrated_on"],
                           "differential_rms_mev": {q: d["all"] for q, d in r.metrics["differential_rms_mev"][source].items()}}
        if "model" in SETTINGS[name]:  # the mass model's own differential RMS on the same pairs, for comparison
            f = load_dataset(DiscoverConfig(**SETTINGS[name], seed=seed).resolved()).frame
            model = masstable.Surface("model", f["Z"].to_numpy(), f["N"].to_numpy(),
                                      np.asarray(be_from_me(f["Z"], f["N"], f["ME_model"]), dtype=np.float64))
            row["model_differential_rms_mev"] = masstable.differential_rms(model, f["split"].to_numpy())
        if name == "residual_random" and seed == 0:  # the predict target: FRDM2012's nuclei, every column
            t = time.perf_counter()
            use = "both" if (r.run_dir / "formula.json").exists() else "kan"
            done = subprocess.run([sys.executable, "-m", "kansym", "predict", str(r.run_dir), "--domain", "frdm12",
                                   "--use", use, "--out", str(Path(scratch_runs()) / "frdm12.csv")],
                                  capture_output=True, text=True)
            row["predict_frdm12"] = {"wall_s": round(time.perf_counter() - t, 1), "exit": done.returncode,
                                     "summary": done.stderr.strip().splitlines()[:1]}
        rows.append(row)
        print(name, seed, {s: (row[s]["coverage"]["BE"]["within_1_sigma"], row[s]["coverage"]["BE"]["within_2_sigma"])
                           for s in ("kan", "formula") if s in row}, row["wall_s"], "s", flush=True)
    judged = "kan" if name.startswith("residual") else "formula"
    have = [row[judged]["coverage"]["BE"] for row in rows if judged in row]
    summary = {}
    for k, (lo, hi) in BAND.items():
        v = np.array([c[k] for c in have])
        n = have[0]["n"] if have else 0
        p = float(np.median(v)) if len(v) else float("nan")
        summary[k] = {"median": p, "min": float(v.min()) if len(v) else None, "max": float(v.max()) if len(v) else None,
                      "seeds_in_band": int(((v >= lo) & (v <= hi)).sum()), "n_seeds": len(v), "n_nuclei": n,
                      "binomial_stderr": float(np.sqrt(p * (1 - p) / n)) if n else None,
                      "met": bool(len(v) == len(rows) and lo <= p <= hi)}
        print(f"{name} {judged} BE {k}: median {p:.3f} (min {summary[k]['min']}, max {summary[k]['max']}), "
              f"{summary[k]['seeds_in_band']}/{len(v)} seeds in [{lo}, {hi}], {n} nuclei, binomial standard error "
              f"{summary[k]['binomial_stderr']:.3f}", flush=True)
    met = all(v["met"] for v in summary.values())
    out["settings"][name] = {"per_seed": rows, "judged": judged, "coverage_over_seeds": summary, "met": met}
write_result("uncertainty" if only == list(SETTINGS) else "uncertainty_" + "_".join(only), out)
