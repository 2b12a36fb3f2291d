"""The KAN stage with the previous recipe (pykan's ``MultKAN.fit``, ``--trainer pykan``) and the new one
(``--trainer fast``, the default), in one process on the same data.

1. KAN-WS4 members: ``kansym discover --target residual --model ws4`` defaults ([4, 10, 1], default
   selection, random 80/20 split), one network per split seed 0..4 (network seed = split seed), each
   trained by both recipes. Targets: median wall time ratio new/previous <= 0.5; median test RMSE within
   0.01 MeV of the previous recipe's.
2. The main job's KAN stage (``kansym discover --target be --subset even-even`` defaults, seed 0),
   both recipes.

pykan is imported before any timing. Wall times are per network fit (scaling, training, pruning,
refinement, bounds), one thread.
"""

import dataclasses
import statistics
import time

import numpy as np
from _common import write_result

from kansym.pipeline.config import DiscoverConfig, load_dataset
from kansym.pipeline.recipe import new_network

SEEDS = range(5)
RECIPES = ("pykan", "fast")


def fit(cfg, ds, trainer):
    tr, te = ds.mask("train"), ds.mask("test")
    reg = new_network(dataclasses.replace(cfg, trainer=trainer), ds.feature_names, cfg.seed)
    t = time.perf_counter()
    reg.fit(ds.X[tr], ds.y[tr], ds.X[te], ds.y[te])
    wall = time.perf_counter() - t
    rmse = {part: float(np.sqrt(np.mean((reg.predict(ds.X[m]) - ds.y[m]) ** 2)))
            for part, m in (("train", tr), ("test", te))}
    return {"wall_s": round(wall, 2), "rmse_mev": rmse, "pruned_width": reg.pruned_width_}


def main():
    import kan  # noqa: F401  (the import is not part of any fit's time)

    members = {r: [] for r in RECIPES}
    for seed in SEEDS:
        cfg = DiscoverConfig(target="residual", model="ws4", seed=seed).resolved()
        ds = load_dataset(cfg)
        for trainer in RECIPES:
            members[trainer].append({"seed": seed, **fit(cfg, ds, trainer)})
            m = members[trainer][-1]
            print(f"KAN-WS4 seed {seed} {trainer:5s} {m['wall_s']:6.2f} s  test {m['rmse_mev']['test']:.4f} MeV",
                  flush=True)
    med = {r: {"wall_s": statistics.median(m["wall_s"] for m in members[r]),
               "test_rmse_mev": statistics.median(m["rmse_mev"]["test"] for m in members[r]),
               "mean_test_rmse_mev": statistics.mean(m["rmse_mev"]["test"] for m in members[r])} for r in RECIPES}
    cfg = DiscoverConfig(target="be", subset="even-even").resolved()
    ds = load_dataset(cfg)
    main_job = {trainer: fit(cfg, ds, trainer) for trainer in RECIPES}
    ratio = med["fast"]["wall_s"] / med["pykan"]["wall_s"]
    shift = med["fast"]["test_rmse_mev"] - med["pykan"]["test_rmse_mev"]
    write_result("kan_stage_speed", {
        "selection": "KAN-WS4 members: kansym discover --target residual --model ws4 defaults (2340 nuclei, random "
                     "80/20), split seed = network seed 0..4; main job: kansym discover --target be --subset "
                     "even-even defaults, seed 0",
        "members": members, "median": med,
        "ratio_wall_fast_over_pykan": round(ratio, 3), "target_ratio": 0.5,
        "median_test_rmse_shift_mev": round(shift, 4), "target_abs_shift_mev": 0.01,
        "main_job_kan_stage": main_job,
        "ratio_main_job": round(main_job["fast"]["wall_s"] / main_job["pykan"]["wall_s"], 3),
    })


if __name__ == "__main__":
    main()
