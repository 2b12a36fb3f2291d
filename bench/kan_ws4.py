"""KAN-WS4 residual (Z, N, P, S; default selection: Z, N >= 8, dME <= 0.1 MeV, 2340 nuclei; random 80/20) with the
defaults of ``kansym discover --target residual --model ws4 --seed S`` for split seeds S = 0..4: RMSE per seed and per
ensemble member, medians and spreads, sigma calibration on the test nuclei, wall time.

Paper (Lu et al.): 0.157 train / 0.205 test / 0.167 all MeV. Targets: median test <= 0.18 MeV, <= 180 s per fit,
2-sigma coverage of the uncertainty on the test nuclei between 85 % and 99 %.
"""

import statistics
import time

from _common import scratch_runs, write_result

from kansym.pipeline.discovery import discover
from kansym.pipeline.config import DiscoverConfig

rows = []
runs = scratch_runs()
for seed in range(5):
    t = time.perf_counter()
    r = discover(DiscoverConfig(target="residual", model="ws4", seed=seed, stage="kan", runs_dir=runs))
    ens = r.metrics["ensemble"]
    rows.append({"seed": seed, **r.metrics["rmse_mev"], "wall_s": round(time.perf_counter() - t, 1),
                 "pruned_width": r.metrics["pruned_width"], "members": ens["seeds"], "dropped": ens["dropped"],
                 "members_rmse_test_mev": ens["members_rmse_mev"]["test"], "calibration_test": ens["calibration_test"]})
    print(rows[-1], flush=True)


def spread(key):
    v = [r[key] for r in rows]
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "std": statistics.stdev(v)}


median_test = statistics.median(r["test"] for r in rows)
cover = [r["calibration_test"]["sigma"]["within_2_sigma"] for r in rows]
write_result("kan_ws4", {
    "setting": "residual ws4, znps, random:0.8, default selection (2340 nuclei), defaults (ensemble 4, median)",
    "per_seed": rows, "rmse_mev_over_split_seeds": {k: spread(k) for k in ("train", "test", "all")},
    "median_rmse_mev": {k: statistics.median(r[k] for r in rows) for k in ("train", "test", "all")},
    "coverage_2sigma_test": {"sigma": cover, "sigma_ens": [r["calibration_test"]["sigma_ens"]["within_2_sigma"]
                                                           for r in rows]},
    "paper_rmse_mev": {"train": 0.157, "test": 0.205, "all": 0.167},
    "target": {"median_test_mev": 0.18, "wall_s_per_fit": 180, "coverage_2sigma": [0.85, 0.99]},
    "met": {"accuracy": median_test <= 0.18, "time": max(r["wall_s"] for r in rows) <= 180,
            "coverage": all(0.85 <= c <= 0.99 for c in cover)},
})
