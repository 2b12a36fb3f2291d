"""New-masses test: train KAN-WS4 on nuclei measured in AME2016, test on the 71 (Z, N >= 8) measured only in
AME2020. Target: RMS on the new nuclei below WS4's own RMS on them."""

import time

from _common import scratch_runs, write_result

from kansym.pipeline import DiscoverConfig, discover

t = time.perf_counter()
r = discover(DiscoverConfig(target="residual", model="ws4", split="new-in-ame2020", max_unc=None, stage="kan",
                            runs_dir=scratch_runs()))
m = r.metrics
write_result("new_masses", {
    "n_test": m["counts"]["test"], "kan_ws4_rms_mev": m["rmse_mev"]["test"], "ws4_rms_mev": m["model_rms_mev"]["test"],
    "kan_train_rmse_mev": m["rmse_mev"]["train"], "wall_s": round(time.perf_counter() - t, 1),
    "met": {"below_ws4": m["rmse_mev"]["test"] < m["model_rms_mev"]["test"]},
})
