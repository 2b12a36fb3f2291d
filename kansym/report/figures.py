"""Figures of a run, built as ``matplotlib.figure.Figure`` objects (no pyplot state, no backend switch: a
notebook's backend is left as it is) and written by :func:`save`."""

from __future__ import annotations


import numpy as np
import pandas as pd

from kansym.errors import KansymError
from kansym.nuclear import tables
from kansym.nuclear.features import NEUTRON_MAGIC, PROTON_MAGIC
from kansym.symbolic.formula import trace_network
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




def network_diagram(regressor, feature_names, X: np.ndarray, output: str = "y"):
    """The (pruned) network as a matrix of its edges' learned functions, one panel per edge: layer by layer, a row
    per receiving node and a column per sending node; first-layer edges drawn against their input in physical units
    (Z, N, ...), later ones against the hidden node's value; each panel gives the edge's spread over the rows of X
    (sigma, network units), so that the edges that matter stand out; a pruned edge is a grey empty panel."""
    tr = trace_network(regressor, X)
    scaler = regressor.x_scaler_
    widths = [a.shape[1] for a in tr.acts]
    if len(feature_names) != widths[0]:
        raise KansymError("internal check failed: the network's inputs are not the feature names given")
    blocks = [(tr.post[l].shape[1], tr.post[l].shape[2]) for l in range(len(tr.post))]  # (receivers, senders)
    n_cols = max(s for _, s in blocks)
    n_rows = sum(r for r, _ in blocks)
    fig = new_figure(figsize=(1.9 * n_cols + 0.6, 1.45 * n_rows + 1.1))
    grid = fig.add_gridspec(n_rows, n_cols)
    hidden = (lambda l, k: f"h{k}") if len(blocks) == 2 else (lambda l, k: f"h{l}.{k}")  # noqa: E731 as in edges.csv
    row = 0
    for l, (receivers, senders) in enumerate(blocks):
        for j in range(receivers):
            target = "output" if l == len(blocks) - 1 else hidden(l + 1, j)
            for i in range(senders):
                ax = fig.add_subplot(grid[row, i])
                source = feature_names[i] if l == 0 else hidden(l, i)
                active = tr.mask[l][j, i] > 0
                x, y = tr.acts[l][:, i], tr.post[l][:, j, i]
                if l == 0:
                    x = scaler.center[i] + scaler.scale[i] * x
                order = np.argsort(x, kind="stable")
                spread = f" ($\\sigma$ = {np.std(y):.2g})" if active else ""
                ax.set_title(f"{source} $\\to$ {target}{spread}", fontsize=8, color="black" if active else "0.6")
                ax.tick_params(labelsize=6)
                if active:
                    ax.plot(x[order], y[order], "-", color=SERIES_COLOURS["kan"], lw=1.2)
                else:
                    ax.set_facecolor("0.93")
                    ax.set_xticks([])
                    ax.set_yticks([])
                    ax.text(0.5, 0.5, "pruned", transform=ax.transAxes, ha="center", va="center", fontsize=7,
                            color="0.5")
                if j == receivers - 1:
                    ax.set_xlabel(source, fontsize=7)
            row += 1
    fig.suptitle(f"KAN [{', '.join(map(str, widths))}] on {', '.join(feature_names)}; output: {output}\n"
                 "each panel one edge's function, y in the network's scaled units, x the input in its own units\n"
                 "(first layer) or the hidden node's value; $\\sigma$: the edge's spread over the training nuclei",
                 fontsize=8)
    fig.tight_layout()
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
    """Three panels along a chain, one colour, marker and line style per series throughout:

    * top, the measured nuclei: ME - ME(AME2020) of the predictions and the reference tables; training nuclei
      filled, held-out (test) nuclei open where the frame has a ``split`` column;
    * middle, beyond the measured nuclei: ME - ME(first reference), with the prediction's +-1 sigma band;
    * bottom, S_2n (S_2p along an isotone) over the whole chain, the drip line where it is crossed.

    Magic numbers dotted, the last measured nucleus dashed. NaN/inf predictions are marked; a reference table's
    gaps are left as gaps. The y ranges follow the data and the references; a prediction running far outside them
    is clipped, and its legend entry says so."""
    from matplotlib.ticker import MaxNLocator

    axis = "Z" if chain.startswith("N=") else "N"  # isotones run along Z
    f = frame.sort_values(axis).reset_index(drop=True)
    ref = against[0]
    fig = new_figure(figsize=(9.5, 9.5))
    ax0, ax1, ax2 = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": (1, 1.2, 1)})
    xs = f[axis].to_numpy()
    measured = (f["distance"] == 0).to_numpy()
    exp = f["ME_exp"].to_numpy(dtype=float) if "ME_exp" in f else np.full(len(f), np.nan)
    inside = measured & np.isfinite(exp)
    outside = ~measured | np.isin(xs, _edges(xs, measured, f["distance"].to_numpy(), axis))  # from the edge on
    series = [p for p in (*preds, *against[1:], "exp") if f"ME_{p}" in f]
    me = {p: f[f"ME_{p}"].to_numpy(dtype=float) for p in (*series, ref) if f"ME_{p}" in f}
    resid = {p: np.where(inside, me[p] - exp, np.nan) for p in (*preds, *against) if p in me}
    diffs = {p: np.where(outside, me[p] - me[ref], np.nan) for p in series}
    be = {p: dict(zip(f[axis], f[f"BE_{p}"])) for p in (*preds, *against, "exp") if f"BE_{p}" in f}
    s2 = {p: ([n for n in f[axis] if n - 2 in b], [b[n] - b[n - 2] for n in f[axis] if n - 2 in b]) for p, b in be.items()}
    limits = [_robust_limits([d for p, d in resid.items() if p not in preds], [resid[p] for p in preds if p in resid]),
              _robust_limits([d for p, d in diffs.items() if p not in preds], [diffs[p] for p in preds if p in diffs]),
              _robust_limits([v for p, (_, v) in s2.items() if p not in preds], [v for p, (_, v) in s2.items() if p in preds])]
    _measured_panel(ax0, xs, resid, preds, inside, f["split"].astype(str).to_numpy() if "split" in f else None,
                    limits[0], axis)
    ax0.axhline(0.0, color="k", lw=1, label="AME2020 (reference)")
    for p, d in diffs.items():
        kw = _series_style(p)
        off = _off_scale(xs, d, limits[1])
        line = ax1.plot(xs, d, ms=3 if p != "exp" else 5,
                        label=series_label(p) + (f" (off scale at {axis} {off})" if off is not None else ""), **kw)[0]
        _band(ax1, f.assign(**{c: np.where(outside, f[c], np.nan) for c in f.columns if c.startswith("sigma_")}),
              axis, p, d, line.get_color())
        bad = ~np.isfinite(me[p])
        if p in preds and bad.any():
            ax1.plot(xs[bad], np.zeros(int(bad.sum())), "x", color="red", ms=8, label=f"{series_label(p)} NaN/inf")
    ax1.axhline(0.0, color=SERIES_COLOURS.get(ref), lw=1, label=f"{series_label(ref)} (reference)")
    for p, (sx, sy) in s2.items():
        ax2.plot(sx, sy, ms=3 if p != "exp" else 5, label=series_label(p), **_series_style(p))
    last = (xs[measured].min() if axis == "Z" else xs[measured].max()) if measured.any() else None
    for ax, lim in zip((ax0, ax1, ax2), limits):
        _mark_chain(ax, xs, axis, last, lim, drip=ax is ax2)
    ax0.set_ylabel("ME $-$ ME(AME2020) [MeV]")
    ax0.set_title(f"{chain} chain: measured nuclei against AME2020, beyond them against {series_label(ref)}",
                  fontsize=10)
    ax1.set_ylabel(f"ME $-$ ME({series_label(ref)}) [MeV]")
    ax2.set_xlabel(axis)
    ax2.set_ylabel("S$_{2n}$ [MeV]" if axis == "N" else "S$_{2p}$ [MeV]")
    ax2.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    return fig


def _edges(xs, measured, distance, axis: str) -> list:
    """The measured range's ends next to steps beyond it (the neutron-rich side: larger N, smaller Z; the other
    side too where the chain has negative distances)."""
    if not measured.any():
        return []
    lo, hi = xs[measured].min(), xs[measured].max()
    rich, poor = (hi, lo) if axis == "N" else (lo, hi)
    return [rich, poor] if (distance < 0).any() else [rich]


def _mark_chain(ax, xs, axis: str, last, limits, drip: bool) -> None:
    """The last measured nucleus, the magic numbers in range, the y limits, the S = 0 drip line where the panel
    (``drip``) crosses it, and the legend beside the data."""
    if last is not None:
        ax.axvline(last, color="grey", ls="--", lw=1, label="last measured")
    for m in PROTON_MAGIC if axis == "Z" else NEUTRON_MAGIC:
        if xs.min() <= m <= xs.max():
            ax.axvline(m, color="purple", ls=":", lw=1, label=f"magic {axis} = {m}")
    if limits is not None:
        ax.set_ylim(*limits)
    if drip and ax.get_ylim()[0] < 0 < ax.get_ylim()[1]:  # the chain reaches the drip line
        ax.axhline(0.0, color="0.4", lw=0.8, label=f"drip line (S$_{{2{'n' if axis == 'N' else 'p'}}}$ = 0)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)


def _measured_panel(ax, xs, resid: dict, preds, inside, split, limits, axis: str) -> None:
    """The measured nuclei's ME - ME(AME2020) per series; where the frame gives the ``split``, each prediction's
    training nuclei filled and its test nuclei open."""
    from matplotlib.lines import Line2D

    for p, d in resid.items():
        kw = _series_style(p)
        off = _off_scale(xs, d, limits)
        ax.plot(xs, d, ms=3, label=series_label(p) + (f" (off scale at {axis} {off})" if off is not None else ""), **kw)
        for part, face in ((("train", kw["color"]), ("test", "white")) if split is not None and p in preds else ()):
            sel = inside & (split == part)
            ax.plot(xs[sel], d[sel], ls="none", marker=kw["marker"], ms=5, mec=kw["color"], mfc=face,
                    color=kw["color"], label="_nolegend_")
    for part, face, text in (("train", "0.3", "training nuclei (filled)"), ("test", "white", "test nuclei (open)")):
        if split is not None and (inside & (split == part)).any():
            ax.add_line(Line2D([], [], ls="none", marker="o", mec="0.3", mfc=face, label=text))


def _series_style(p: str) -> dict:
    """Colour, marker and line style of series ``p`` (a prediction, a mass table or "exp")."""
    marker, style = SERIES_STYLES.get(p, ("o", "-"))
    return dict(color=SERIES_COLOURS.get(p), marker=marker, ls=style)


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

