"""Figures of a run, built as ``matplotlib.figure.Figure`` objects (no pyplot state, no backend switch: a
notebook's backend is left as it is) and written by :func:`save`."""

from __future__ import annotations


import numpy as np
import pandas as pd

from kansym.nuclear import tables
from kansym.nuclear.features import NEUTRON_MAGIC, PROTON_MAGIC
from kansym.symbolic.formula import trace_network
from kansym.network.regressor import contained
from kansym.symbolic.library import candidate_numpy
from kansym.nuclear.targets import SUBSETS


def new_figure(**kw):
    """A figure that belongs to no pyplot window (``figsize`` etc. as for ``Figure``)."""
    from matplotlib.figure import Figure

    return Figure(**kw)


SERIES_COLOURS = {"kan": "#0072B2", "formula": "#D55E00", "exp": "k", "frdm12": "#009E73", "ws4": "#CC79A7",
                  "dz28": "#E69F00", "ktuy05": "#56B4E9", "hfb27": "#F0E442", "dz10": "#999999", "ws4rbf": "#000000"}
"""One colour per series in every panel and figure (the Okabe-Ito palette, safe for colour-blind readers)."""

SERIES_STYLES = {"kan": ("o", "-"), "formula": ("s", "--"), "exp": (".", "none"), "frdm12": ("^", "-."),
                 "ws4": ("v", ":"), "dz28": ("D", "-."), "ktuy05": ("<", ":"), "hfb27": (">", "-."),
                 "dz10": ("p", ":"), "ws4rbf": ("h", "-.")}
"""Marker and line style of each series: the curves stay apart in greyscale."""


def series_label(name: str) -> str:
    """Display name of a prediction or mass table: KAN, formula, AME2020, FRDM2012, WS4, ..."""

    if name in tables.MODELS:
        return tables.MODELS[name].label
    return {"kan": "KAN", "formula": "formula", "exp": "AME2020"}.get(name, name)




def network_diagram(regressor, feature_names, output: str = "y"):
    """pykan's drawing of the (pruned) network, inputs labelled (save it with ``bbox_inches="tight"``)."""
    import matplotlib.pyplot as plt  # pykan draws with pyplot: its figure is taken out of pyplot, nothing else
    import torch

    model = regressor.model_
    n = len(regressor.x_scaler_.center)
    grid = torch.linspace(-1, 1, 64, dtype=torch.float64)
    x = torch.stack([grid] * n, dim=1)
    with contained(regressor.seed):
        model(x)
        before = set(plt.get_fignums())
        try:
            model.plot(folder="figures", in_vars=list(feature_names), out_vars=[output], scale=0.6)
            fig = plt.gcf()
        finally:
            for num in set(plt.get_fignums()) - before:
                plt.close(num)  # out of pyplot's list of windows; the Figure object stays usable
    return fig


def _chart_frame(ax, ns, zs, title: str) -> None:
    """Axes of an N-Z chart: magic numbers dotted, limits around the plotted nuclei."""
    for m in NEUTRON_MAGIC:
        ax.axvline(m, color="grey", lw=0.5, ls=":")
    for m in PROTON_MAGIC:
        ax.axhline(m, color="grey", lw=0.5, ls=":")
    ax.set_xlabel("N")
    ax.set_ylabel("Z")
    ax.set_xlim(np.min(ns) - 3, np.max(ns) + 3)
    ax.set_ylim(np.min(zs) - 3, np.max(zs) + 3)
    ax.set_title(title)


def nz_plot(frame: pd.DataFrame, column: str = "residual", title: str = "", sign: float = -1.0,
            unit_label: str = "prediction - target [MeV]"):
    """Scatter of ``sign * frame[column]`` over the N-Z plane (symmetric colour scale clipped at the 98th
    percentile of |value|, said on the colour bar); test nuclei circled; magic numbers drawn."""
    fig = new_figure(figsize=(8, 5.5))
    ax = fig.subplots()
    v = sign * frame[column].to_numpy()
    lim = float(np.nanpercentile(np.abs(v), 98)) or 1.0
    rms = float(np.sqrt(np.nanmean(v ** 2)))
    sc = ax.scatter(frame["N"], frame["Z"], c=np.clip(v, -lim, lim), cmap="RdBu_r", vmin=-lim, vmax=lim, s=9,
                    marker="s", label="training nuclei" if "split" in frame else None)
    if "split" in frame:
        test = frame["split"] == "test"
        ax.scatter(frame.loc[test, "N"], frame.loc[test, "Z"], facecolors="none", edgecolors="k", s=16, lw=0.4,
                   label="test nuclei")
        ax.legend(loc="upper left", fontsize=8)
    _chart_frame(ax, frame["N"].to_numpy(), frame["Z"].to_numpy(), title)
    ax.set_aspect("equal")
    ax.text(0.98, 0.03, f"RMS {rms:.3g} MeV ({len(v)} nuclei)", transform=ax.transAxes, ha="right", va="bottom",
            fontsize=9, bbox=dict(facecolor="white", edgecolor="0.7", alpha=0.9))
    fig.colorbar(sc, ax=ax, label=f"{unit_label} (clipped at $\\pm${lim:.3g})")
    fig.tight_layout()
    return fig




def edge_plots(regressor, network, X: np.ndarray, feature_names, r2_min: float = 0.9):
    """(file name, figure) per active edge: the KAN's activation against its symbolic fit; an edge whose best
    fit has R^2 < ``r2_min`` is marked as poorly fitted."""

    tr = trace_network(regressor, X)
    for e in network.edges:
        x = tr.acts[e.layer][:, e.i]
        y = tr.post[e.layer][:, e.j, e.i]
        # a first-layer edge is drawn against its input in physical units (Z, N, v_Z, ...), the fit as a smooth
        # curve over the trained range
        to_axis = (lambda s: network.x_center[e.i] + network.x_scale[e.i] * s) if e.layer == 0 else (lambda s: s)
        dense = np.linspace(np.min(x), np.max(x), 400)
        fig = new_figure(figsize=(5, 3.8))
        ax = fig.subplots()
        ax.plot(to_axis(x), y, "k.", ms=3, label="KAN edge")
        ax.plot(to_axis(dense), candidate_numpy(e.chosen, dense, network.library), "r-", lw=1.2,
                label=f"{e.chosen.name} fit (R$^2$ = {e.chosen.r2:.5f})")
        src = feature_names[e.i] if e.layer == 0 else f"h{e.i}"
        poor = e.alternatives and e.alternatives[0].r2 < r2_min
        ax.set_title(f"layer {e.layer}: {src} -> node {e.j}" + (f"  POORLY FITTED (R$^2$ < {r2_min})" if poor else ""),
                     fontsize=9, color="red" if poor else "black")
        ax.set_xlabel(f"{src} (input)" if e.layer == 0 else f"{src} (hidden node value)")
        ax.set_ylabel("edge output (network units)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        yield f"edge_{e.layer}_{e.i}_{e.j}.png", fig




def _band(ax, f: pd.DataFrame, axis: str, p: str, d: np.ndarray, colour) -> None:
    """The +-1 sigma band of prediction ``p`` around ``d``: the predictive sigma (``kansym.checks.masstable``) where the
    frame has it, else the ensemble spread and the constants' error, each labelled for what it is."""
    name = series_label(p)
    bands = [(f"sigma_pred_{p}", f"{name} $\\pm\\sigma$ (predictive)", "//" if p == "formula" else None, 0.2)]
    if f"sigma_pred_{p}" not in f:
        bands = [(f"sigma_ens_{p}", f"{name} $\\pm\\sigma_{{ens}}$", None, 0.25),
                 (f"sigma_fit_{p}", f"{name} $\\pm\\sigma_{{fit}}$ (constants)", "//", 0.2)]
    for col, label, hatch, alpha in bands:
        if col in f and np.isfinite(f[col]).any():
            sig = f[col]
            ax.fill_between(f[axis], d - sig, d + sig, color=colour, alpha=alpha, lw=0, hatch=hatch, label=label)


def chain_plot(frame: pd.DataFrame, preds, against, chain: str):
    """Top: ME - ME(first reference) along a chain; bottom: S_2n (S_2p along an isotone). One colour per
    series in both panels, a legend in each, magic numbers dotted, the last measured nucleus dashed.
    NaN/inf predictions are marked; a reference table's gaps are left as gaps. The y range follows the data
    and the references; a prediction running far outside it is clipped, and its legend entry says so."""
    axis = "Z" if chain.startswith("N=") else "N"  # isotones run along Z
    f = frame.sort_values(axis)
    ref = against[0]
    fig = new_figure(figsize=(9.5, 7))
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    series = [p for p in (*preds, *against[1:], "exp") if f"ME_{p}" in f]
    diffs = {p: (f[f"ME_{p}"] - f[f"ME_{ref}"]).to_numpy(dtype=float) for p in series}
    be = {p: dict(zip(f[axis], f[f"BE_{p}"])) for p in (*preds, *against, "exp") if f"BE_{p}" in f}
    s2 = {p: ([n for n in f[axis] if n - 2 in b], [b[n] - b[n - 2] for n in f[axis] if n - 2 in b]) for p, b in be.items()}
    s2_ref = [np.asarray(v, dtype=float) for p, (_, v) in s2.items() if p not in preds]
    s2_pred = [np.asarray(v, dtype=float) for p, (_, v) in s2.items() if p in preds]
    step_limits = [_robust_limits([d for p, d in diffs.items() if p not in preds], [diffs[p] for p in preds if p in diffs]),
                   _robust_limits(s2_ref, s2_pred)]
    for p in series:
        d = diffs[p]
        marker, style = SERIES_STYLES.get(p, ("o", "-"))
        kw = dict(color=SERIES_COLOURS.get(p, None), marker=marker, ls=style)
        off = _off_scale(f[axis].to_numpy(), d, step_limits[0])
        label = series_label(p) + (f" (off scale at {axis} {off})" if off is not None else "")
        line = ax1.plot(f[axis], d, ms=3 if p != "exp" else 5, label=label, **kw)[0]
        _band(ax1, f, axis, p, d, line.get_color())
        bad = ~np.isfinite(f[f"ME_{p}"].to_numpy(dtype=float))
        if p in preds and bad.any():
            ax1.plot(f.loc[bad, axis], np.zeros(int(bad.sum())), "x", color="red", ms=8,
                     label=f"{series_label(p)} NaN/inf")
    ax1.axhline(0.0, color=SERIES_COLOURS.get(ref), lw=1, label=f"{series_label(ref)} (reference)")
    for p, (xs, ys) in s2.items():
        marker, style = SERIES_STYLES.get(p, ("o", "-"))
        ax2.plot(xs, ys, marker=marker, ls=style, ms=3 if p != "exp" else 5, color=SERIES_COLOURS.get(p),
                 label=series_label(p))
    measured = f.loc[f["distance"] == 0, axis]
    last = measured.min() if axis == "Z" else measured.max()  # the neutron-rich end of the measured range
    magic = PROTON_MAGIC if axis == "Z" else NEUTRON_MAGIC
    lo, hi = f[axis].min(), f[axis].max()
    for ax, lim in ((ax1, step_limits[0]), (ax2, step_limits[1])):
        ax.axvline(last, color="grey", ls="--", lw=1, label="last measured")
        for m in magic:
            if lo <= m <= hi:
                ax.axvline(m, color="purple", ls=":", lw=1, label=f"magic {axis} = {m}")
        if lim is not None:
            ax.set_ylim(*lim)
        if ax is ax2 and ax.get_ylim()[0] < 0 < ax.get_ylim()[1]:  # the chain reaches the drip line
            ax.axhline(0.0, color="0.4", lw=0.8, label=f"drip line (S$_{{2{'n' if axis == 'N' else 'p'}}}$ = 0)")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)  # beside the data
    ax1.set_ylabel(f"ME $-$ ME({series_label(ref)}) [MeV]")
    ax1.set_title(f"{chain} chain: mass excess relative to {series_label(ref)}")
    ax2.set_xlabel(axis)
    ax2.set_ylabel("S$_{2n}$ [MeV]" if axis == "N" else "S$_{2p}$ [MeV]")
    fig.tight_layout()
    return fig


def _robust_limits(trusted, predictions, reach: float = 2.0, pad: float = 0.08):
    """A y range set by the ``trusted`` curves (data and reference tables) and widened to take in the
    ``predictions`` that stay within ``reach`` times the trusted span of it; a prediction running away
    further is clipped rather than squashing every other curve."""
    ref = np.concatenate([np.asarray(v, dtype=float).ravel() for v in trusted] or [np.empty(0)])
    pred = np.concatenate([np.asarray(v, dtype=float).ravel() for v in predictions] or [np.empty(0)])
    ref, pred = ref[np.isfinite(ref)], pred[np.isfinite(pred)]
    if not ref.size and not pred.size:
        return None
    if not ref.size:
        ref, pred = pred, np.empty(0)
    lo, hi = float(ref.min()), float(ref.max())
    span = max(hi - lo, 1.0)
    near = pred[(pred >= lo - reach * span) & (pred <= hi + reach * span)]
    if near.size:
        lo, hi = min(lo, float(near.min())), max(hi, float(near.max()))
    margin = pad * max(hi - lo, 1.0)
    return lo - margin, hi + margin


def _off_scale(xs: np.ndarray, values: np.ndarray, limits):
    """The first abscissa where ``values`` leave ``limits`` (None if they never do)."""
    if limits is None:
        return None
    v = np.asarray(values, dtype=float)
    out = np.isfinite(v) & ((v < limits[0]) | (v > limits[1]))
    return xs[int(np.argmax(out))] if out.any() else None




def candidates_plot(table: pd.DataFrame, departure: str):
    """Candidate formulas on three axes: constants (x), train RMSE (y, log) and the far departure
    (colour, log); failures of the far-extrapolation check as grey crosses, the Pareto set
    circled, the chosen formula starred."""
    from matplotlib.colors import LogNorm

    fig = new_figure(figsize=(7, 4.8))
    ax = fig.subplots()
    bad = ~table["sane"].astype(bool)
    ax.scatter(table.loc[bad, "n_constants"], table.loc[bad, "rmse_train_mev"], marker="x", c="0.6", s=18,
               label="fails far-extrapolation check")
    good = table[~bad]
    if len(good):
        d = good["far_departure_mev"].to_numpy(dtype=float)
        d = np.where(np.isfinite(d) & (d > 0), d, np.nan)
        lo = np.nanmin(d) if np.isfinite(d).any() else 0.1
        hi = np.nanmax(d) if np.isfinite(d).any() else 1.0
        sc = ax.scatter(good["n_constants"], good["rmse_train_mev"], c=d, cmap="viridis", s=24,
                        norm=LogNorm(vmin=max(lo, 1e-3), vmax=max(hi, lo * 1.01, 1e-3 * 1.01)), label="passes")
        fig.colorbar(sc, ax=ax, label=departure)
        front = good[good["pareto"].astype(bool)]
        ax.scatter(front["n_constants"], front["rmse_train_mev"], facecolors="none", edgecolors="r", s=70, lw=1,
                   label="Pareto set (3 axes)")
    ch = table[table["chosen"].astype(bool)]
    if len(ch):
        ax.scatter(ch["n_constants"], ch["rmse_train_mev"], marker="*", c="gold", edgecolors="k", s=220,
                   label="chosen", zorder=5)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # constants are counted
    ax.set_yscale("log")
    ax.set_xlabel("constants")
    ax.set_ylabel("train RMSE [MeV]")
    ax.set_title("Candidate formulas")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig




def far_limit(diffs) -> float:
    """One colour limit for several far maps (the KAN's and the formula's): the largest 99th percentile of
    |difference| among them [MeV], so that the maps can be compared."""
    tops = [float(np.nanpercentile(np.abs(d[np.isfinite(d)]), 99)) for d in map(np.asarray, diffs)
            if np.isfinite(d).any()]
    return max(tops, default=1.0) or 1.0


def far_plot(dom: pd.DataFrame, diff: np.ndarray, title: str, limit: float | None = None):
    """Prediction minus a reference [MeV] over a domain on the N-Z chart, the AME2020 region outlined as one
    closed curve, the RMS inside and beyond it in the panel; the colour scale is symmetric and saturates at
    ``limit`` (shared by maps to be compared, :func:`far_limit`; default this map's 99th percentile of |diff|),
    non-finite values drawn as black crosses."""

    diff = np.asarray(diff, dtype=float)
    fin = np.isfinite(diff)
    lim = limit or (float(np.nanpercentile(np.abs(diff[fin]), 99)) if fin.any() else 1.0) or 1.0
    zs, ns = dom["Z"].to_numpy(), dom["N"].to_numpy()
    step = 2 if SUBSETS["even-even"](zs, ns).all() else 1
    span_n, span_z = ns.max() - ns.min() + 6, zs.max() - zs.min() + 6
    fig = new_figure(figsize=(9, 9 * span_z / span_n + 1.0))
    ax = fig.subplots()
    size = (step * 72 * 8.0 / span_n) ** 2 * 0.9  # squares that tile the chart
    sc = ax.scatter(ns[fin], zs[fin], c=np.clip(diff[fin], -lim, lim), cmap="RdBu_r", vmin=-lim, vmax=lim, s=size,
                    marker="s", linewidths=0)
    if (~fin).any():
        ax.scatter(ns[~fin], zs[~fin], marker="x", c="k", s=size, label="NaN/inf")
    ame = tables.load_experiment()
    ame = ame[~ame["estimated"]]
    ame = ame[ame["Z"].isin(set(zs))]
    edges = ame.groupby("Z")["N"].agg(["min", "max"]).reset_index()
    outline_n = [*(edges["min"] - step / 2), *(edges["max"] + step / 2)[::-1], edges["min"].iloc[0] - step / 2]
    outline_z = [*edges["Z"], *edges["Z"][::-1], edges["Z"].iloc[0]]
    ax.plot(outline_n, outline_z, "k-", lw=1, label="measured (AME2020)")
    if "beyond" in dom:
        beyond = dom["beyond"].to_numpy(dtype=bool)
        parts = [(name, diff[m & fin]) for name, m in (("inside", ~beyond), ("beyond", beyond)) if (m & fin).any()]
        ax.text(0.98, 0.03, "RMS " + ", ".join(f"{name} {np.sqrt(np.mean(d ** 2)):.3g} MeV" for name, d in parts),
                transform=ax.transAxes, ha="right", va="bottom", fontsize=9,
                bbox=dict(facecolor="white", edgecolor="0.7", alpha=0.9))
    _chart_frame(ax, ns, zs, title)
    ax.set_aspect("equal")
    ax.legend(loc="upper left", fontsize=8)
    clip = "shared by the maps compared" if limit else "the 99th percentile of |difference|"
    fig.colorbar(sc, ax=ax, label=f"MeV (clipped at $\\pm${lim:.3g}, {clip})", shrink=0.8)
    fig.tight_layout()
    return fig

