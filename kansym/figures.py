"""Figures written into a run directory (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kansym.features import NEUTRON_MAGIC, PROTON_MAGIC


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def network_diagram(regressor, feature_names, path: Path) -> None:
    """pykan's drawing of the (pruned) network, inputs labelled."""
    import torch

    from kansym.network import contained

    plt = _plt()
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    model = regressor.model_
    n = len(regressor.x_scaler_.center)
    grid = torch.linspace(-1, 1, 64, dtype=torch.float64)
    x = torch.stack([grid] * n, dim=1)
    with contained(regressor.seed):
        model(x)
        model.plot(folder="figures", in_vars=list(feature_names), out_vars=["y"], scale=0.6)
        plt.savefig(path, bbox_inches="tight", dpi=120)
        plt.close("all")


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


def nz_chart(frame: pd.DataFrame, path: Path, column: str = "residual", title: str = "",
             sign: float = -1.0) -> None:
    """Scatter of ``sign * frame[column]`` over the N-Z plane; test nuclei circled; magic numbers drawn."""
    plt = _plt()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(8, 5.5))
    v = sign * frame[column].to_numpy()
    lim = float(np.nanpercentile(np.abs(v), 98)) or 1.0
    sc = ax.scatter(frame["N"], frame["Z"], c=v, cmap="RdBu_r", vmin=-lim, vmax=lim, s=9, marker="s")
    if "split" in frame:
        test = frame["split"] == "test"
        ax.scatter(frame.loc[test, "N"], frame.loc[test, "Z"], facecolors="none", edgecolors="k", s=16, lw=0.4,
                   label="test")
        ax.legend(loc="upper left")
    _chart_frame(ax, frame["N"].to_numpy(), frame["Z"].to_numpy(), title)
    fig.colorbar(sc, ax=ax, label="MeV")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def edge_fits(regressor, network, X: np.ndarray, feature_names, folder: Path) -> None:
    """One figure per active edge: the KAN's activation against its symbolic fit."""
    from kansym.formula import trace_network
    from kansym.symbolic import candidate_numpy

    plt = _plt()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tr = trace_network(regressor, X)
    for e in network.edges:
        x = tr.acts[e.layer][:, e.i]
        y = tr.post[e.layer][:, e.j, e.i]
        order = np.argsort(x)
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.plot(x[order], y[order], "k.", ms=3, label="KAN edge")
        ax.plot(x[order], candidate_numpy(e.chosen, x[order], network.library), "r-", lw=1.2,
                label=f"{e.chosen.name} (R$^2$={e.chosen.r2:.5f})")
        src = feature_names[e.i] if e.layer == 0 else f"h{e.i}"
        ax.set_title(f"layer {e.layer}: {src} -> node {e.j}", fontsize=9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(folder / f"edge_{e.layer}_{e.i}_{e.j}.png", dpi=90)
        plt.close(fig)


def chain_figure(frame: pd.DataFrame, preds, against, path: Path, chain: str) -> None:
    """Top: ME - ME(first reference) along a chain; bottom: S_2n. NaN/inf predictions are marked."""
    plt = _plt()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    axis = "Z" if chain.startswith("N=") else "N"  # isotones run along Z
    f = frame.sort_values(axis)
    ref = against[0]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(6.5, 6), sharex=True)
    for p in (*preds, *against[1:], "exp"):
        col = f"ME_{p}"
        if col not in f:
            continue
        d = f[col] - f[f"ME_{ref}"]
        line = ax1.plot(f[axis], d, "o-" if p != "exp" else "k.", ms=3, label=p)[0]
        if f"sigma_ens_{p}" in f:  # the ensemble's per-nucleus spread as a +-1 sigma band
            s = f[f"sigma_ens_{p}"]
            ax1.fill_between(f[axis], d - s, d + s, color=line.get_color(), alpha=0.25, lw=0,
                             label=f"{p} $\\pm\\sigma_{{ens}}$")
        bad = ~np.isfinite(f[col]) & (p != "exp")
        if bad.any():
            ax1.plot(f.loc[bad, axis], np.zeros(int(bad.sum())), "rx", ms=8, label=f"{p} NaN/inf")
    measured = f.loc[f["distance"] == 0, axis]
    last = measured.min() if axis == "Z" else measured.max()  # the neutron-rich end of the measured range
    for ax in (ax1, ax2):
        ax.axvline(last, color="grey", ls=":", lw=1)
    ax1.set_ylabel(f"ME - ME({ref}) [MeV]")
    ax1.set_title(f"{chain} chain (dotted: last measured)")
    ax1.legend(fontsize=7)
    be = {p: dict(zip(f[axis], f[f"BE_{p}"])) for p in (*preds, *against, "exp") if f"BE_{p}" in f}
    for p, b in be.items():
        ns = [n for n in f[axis] if n - 2 in b]
        ax2.plot(ns, [b[n] - b[n - 2] for n in ns], "o-" if p != "exp" else "k.", ms=3, label=p)
    ax2.set_xlabel(axis)
    ax2.set_ylabel("S$_{2n}$ [MeV]" if axis == "N" else "S$_{2p}$ [MeV]")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def candidates_figure(table: pd.DataFrame, path: Path, departure: str) -> None:
    """Candidate formulas on three axes: constants (x), train RMSE (y, log) and the far departure
    (colour, log); failures of the far-extrapolation check as grey crosses, the Pareto set
    circled, the chosen formula starred."""
    from matplotlib.colors import LogNorm

    plt = _plt()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4.8))
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
    ax.set_yscale("log")
    ax.set_xlabel("constants")
    ax.set_ylabel("train RMSE [MeV]")
    ax.set_title("Candidate formulas")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def far_map(dom: pd.DataFrame, diff: np.ndarray, path: Path, title: str, limit: float | None = None) -> None:
    """Prediction minus a reference [MeV] over a domain on the N-Z chart, the AME2020 region outlined;
    the colour scale is symmetric and saturates at ``limit`` (default the 99th percentile of |diff|),
    non-finite values drawn as black crosses."""
    from kansym import tables

    plt = _plt()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    diff = np.asarray(diff, dtype=float)
    fin = np.isfinite(diff)
    lim = limit or (float(np.nanpercentile(np.abs(diff[fin]), 99)) if fin.any() else 1.0) or 1.0
    zs, ns = dom["Z"].to_numpy(), dom["N"].to_numpy()
    step = 2 if (np.all(zs % 2 == 0) and np.all(ns % 2 == 0)) else 1
    span_n, span_z = ns.max() - ns.min() + 6, zs.max() - zs.min() + 6
    fig, ax = plt.subplots(figsize=(9, 9 * span_z / span_n + 1.0))
    size = (step * 72 * 8.0 / span_n) ** 2 * 0.9  # squares that tile the chart
    sc = ax.scatter(ns[fin], zs[fin], c=np.clip(diff[fin], -lim, lim), cmap="RdBu_r", vmin=-lim, vmax=lim, s=size,
                    marker="s", linewidths=0)
    if (~fin).any():
        ax.scatter(ns[~fin], zs[~fin], marker="x", c="k", s=size, label="NaN/inf")
    ame = tables.load_experiment()
    ame = ame[~ame["estimated"]]
    ame = ame[ame["Z"].isin(set(zs))]
    edges = ame.groupby("Z")["N"].agg(["min", "max"]).reset_index()
    ax.plot(edges["min"] - step / 2, edges["Z"], "k-", lw=1, label="measured (AME2020)")
    ax.plot(edges["max"] + step / 2, edges["Z"], "k-", lw=1)
    _chart_frame(ax, ns, zs, title)
    ax.set_aspect("equal")
    ax.legend(loc="upper left", fontsize=8)
    fig.colorbar(sc, ax=ax, label=f"MeV (saturates at +-{lim:.3g})", shrink=0.8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
