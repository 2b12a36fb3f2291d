"""Coverage and RMS of the bundled mass models against AME2020 on a selection of nuclei."""

from __future__ import annotations

from kansym.nuclear import tables
from kansym.metrics import rms
from kansym.nuclear.targets import SUBSETS, Selection, attach_model, select_nuclei


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
    ee = SUBSETS["even-even"](nuclei["Z"], nuclei["N"]).sum()
    oo = SUBSETS["odd-odd"](nuclei["Z"], nuclei["N"]).sum()
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
