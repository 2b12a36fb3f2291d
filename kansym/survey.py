"""Coverage and RMS of the bundled mass models against AME2020 on a selection of nuclei."""

from __future__ import annotations

import numpy as np

from kansym import tables
from kansym.targets import Selection, attach_model, select_nuclei


def rms(x) -> float:
    """Root mean square of x (MeV); NaN for an empty array."""
    x = np.asarray(x, dtype=np.float64)
    return float(np.sqrt(np.mean(x * x))) if x.size else float("nan")


def model_survey(sel: Selection, models=tuple(tables.MODELS)) -> dict:
    """Counts of the selection and, per model, coverage and RMS / mean of ME_model - ME_exp [MeV]."""
    nuclei = select_nuclei(sel)
    rows = []
    for name in models:
        spec = tables.check_model(name)
        covered, dropped = attach_model(nuclei, spec.name)
        diff = covered["ME_model"] - covered["ME"]
        rows.append({
            "model": spec.name, "label": spec.label, "covered": len(covered), "missing": dropped,
            "rms_mev": round(rms(diff), 6), "mean_mev": round(float(diff.mean()), 6),
            "max_abs_mev": round(float(diff.abs().max()), 6), "note": spec.note,
        })
    ee = ((nuclei["Z"] % 2 == 0) & (nuclei["N"] % 2 == 0)).sum()
    oo = ((nuclei["Z"] % 2 == 1) & (nuclei["N"] % 2 == 1)).sum()
    return {
        "selection": {"subset": sel.subset, "min_z": sel.min_z, "min_n": sel.min_n,
                      "max_unc_mev": sel.max_unc, "include_estimated": sel.include_estimated},
        "counts": {"nuclei": len(nuclei), "even_even": int(ee), "odd_odd": int(oo),
                   "odd_a": int(len(nuclei) - ee - oo), "estimated": int(nuclei["estimated"].sum()),
                   "Z_range": [int(nuclei["Z"].min()), int(nuclei["Z"].max())],
                   "N_range": [int(nuclei["N"].min()), int(nuclei["N"].max())]},
        "models": rows,
        "unavailable": dict(tables.UNAVAILABLE_MODELS),
    }
