"""Extrapolation stability on the even-even BE task: RMS deviation from FRDM2012 over the 10 nuclei beyond the
last measured one, averaged over the Zr, Nd, Hg, Fm chains; the formula should beat the KAN (the paper's claim).
The stage itself should take <= 30 s."""

import time

from _common import scratch_runs, write_result

from kansym.checks.extrapolation import DEFAULT_CHAINS
from kansym.pipeline.discovery import discover, rerun_extrapolate
from kansym.pipeline.config import DiscoverConfig

out = {}
runs = scratch_runs()
for label, kw in [("default_features", {}), ("zn", dict(features="zn"))]:
    r = discover(DiscoverConfig(target="be", subset="even-even", crosscheck="none", extrapolate=False,
                                runs_dir=runs, **kw))
    t = time.perf_counter()
    rep = rerun_extrapolate(r.run_dir, DEFAULT_CHAINS)
    wall = time.perf_counter() - t
    mean = rep["mean_chain_rms_vs_frdm12_mev"]
    out[label] = {"mean_chain_rms_vs_frdm12_mev": mean, "stage_wall_s": round(wall, 1),
                  "per_chain": {c: {p: v[p]["rms_vs_frdm12_mev"] for p in ("kan", "formula")}
                                for c, v in rep["per_chain"].items()},
                  "formula_more_stable": mean["formula"] < mean["kan"]}
    print(label, out[label], flush=True)
write_result("extrapolation_be", {**out, "target": {"stage_wall_s": 30}})
