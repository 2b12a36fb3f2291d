"""KAN-WS4 residual (Z, N, P, S; 2340 nuclei; random 80/20): RMSE over split seeds 0..4.

Paper (Lu et al.): 0.157 train / 0.205 test / 0.167 all MeV. Target: median test <= 0.20 MeV, <= 180 s per fit.
"""

import statistics
import time

from _common import scratch_runs, write_result

from kansym.pipeline import DiscoverConfig, discover

rows = []
runs = scratch_runs()
for seed in range(5):
    t = time.perf_counter()
    r = discover(DiscoverConfig(target="residual", model="ws4", seed=seed, stage="kan", runs_dir=runs))
    rows.append({"seed": seed, **r.metrics["rmse_mev"], "wall_s": round(time.perf_counter() - t, 1),
                 "pruned_width": r.metrics["pruned_width"], "ensemble": r.config["ensemble"]})
    print(rows[-1], flush=True)
median_test = statistics.median(r["test"] for r in rows)
write_result("kan_ws4", {
    "setting": "residual ws4, znps, random:0.8, defaults", "per_seed": rows,
    "median_rmse_mev": {k: statistics.median(r[k] for r in rows) for k in ("train", "test", "all")},
    "paper_rmse_mev": {"train": 0.157, "test": 0.205, "all": 0.167},
    "target": {"median_test_mev": 0.20, "wall_s_per_fit": 180},
    "met": {"accuracy": median_test <= 0.20, "time": max(r["wall_s"] for r in rows) <= 180},
})
