"""Figures of a run, inspected as matplotlib objects before they are saved."""

import shutil

import matplotlib
import numpy as np
import pandas as pd
import pytest

from kansym.report import figures
from kansym.pipeline.discovery import rerun_extrapolate
from kansym.pipeline.recipe import load_run_stage

matplotlib.use("Agg", force=True)


def _labelled(ax) -> list[str]:
    handles, labels = ax.get_legend_handles_labels()
    return [lb for lb in labels if not lb.startswith("_")]


def _check_legends(fig):
    for ax in fig.axes:
        if ax.get_label() == "<colorbar>":
            continue
        if len(_labelled(ax)) > 1:
            assert ax.get_legend() is not None, f"axes {ax.get_title()!r} has several series and no legend"


@pytest.fixture(scope="module")
def chain_run(formula_run, tmp_path_factory):
    run = tmp_path_factory.mktemp("fig") / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    rerun_extrapolate(run, ("Sn",), beyond=4, against=("frdm12", "ws4"))
    return run


def test_chain_figure_panels_agree_and_have_legends(chain_run):
    surface = pd.read_csv(chain_run / "extrapolation.csv")
    fig = figures.chain_plot(surface, ("kan", "formula"), ("frdm12", "ws4"), "Sn")
    _check_legends(fig)
    measured, beyond, s2n = fig.axes
    colours = [{ln.get_label().split(" (off scale")[0]: ln.get_color() for ln in ax.get_lines()
                if not ln.get_label().startswith("_")} for ax in (measured, beyond, s2n)]
    shared = set(colours[1]) & set(colours[2]) - {"last measured"}
    assert {"KAN", "formula", "WS4", "AME2020"} <= shared
    assert all(colours[1][k] == colours[2][k] for k in shared)  # one colour per series in every panel
    assert all(colours[0][k] == colours[1][k] for k in ("KAN", "formula", "WS4"))
    assert "FRDM2012 (reference)" in colours[1] and "frdm12" not in " ".join(colours[1])
    assert any(k.startswith("magic N = 82") for k in colours[1])  # Sn crosses N = 82
    assert (chain_run / "figures" / "chain_Sn.png").stat().st_size > 10_000
    if np.isfinite(surface["sigma_fit_formula"]).any():  # the formula's band from its constants' covariance
        assert any("sigma_{fit}" in lb for lb in _labelled(beyond))


def test_chain_figure_shows_residuals_against_ame2020_where_measured(chain_run):
    """Measured nuclei: ME - ME(AME2020), training nuclei filled and test nuclei open; beyond them: the difference
    from FRDM2012, drawn only from the last measured nucleus on."""
    surface = pd.read_csv(chain_run / "extrapolation.csv")
    split = pd.read_csv(chain_run / "predictions.csv")[["Z", "N", "split"]]
    framed = surface.merge(split, on=["Z", "N"], how="left")
    fig = figures.chain_plot(framed, ("kan", "formula"), ("frdm12", "ws4"), "Sn")
    measured, beyond, _ = fig.axes
    assert measured.get_ylabel() == "ME $-$ ME(AME2020) [MeV]"
    assert beyond.get_ylabel() == "ME $-$ ME(FRDM2012) [MeV]"
    inside = surface[(surface["distance"] == 0) & surface["ME_exp"].notna()].sort_values("N")
    kan = next(ln for ln in measured.get_lines() if ln.get_label().split(" (off scale")[0] == "KAN")
    got = pd.Series(np.asarray(kan.get_ydata(), dtype=float), index=np.asarray(kan.get_xdata()))
    want = (inside["ME_kan"] - inside["ME_exp"]).to_numpy()
    assert np.allclose(got.loc[inside["N"].to_numpy()].to_numpy(), want)
    labels = _labelled(measured)
    assert "training nuclei (filled)" in labels
    tests = framed[(framed["distance"] == 0) & (framed["split"] == "test") & framed["ME_exp"].notna()]
    assert ("test nuclei (open)" in labels) == (len(tests) > 0)
    if len(tests):  # an open marker at each test nucleus of the KAN's curve
        opened = [ln for ln in measured.get_lines() if ln.get_label() == "_nolegend_" and ln.get_mfc() == "white"
                  and ln.get_color() == kan.get_color()]
        assert sorted(np.concatenate([ln.get_xdata() for ln in opened])) == sorted(tests["N"])
    last = surface.loc[surface["distance"] == 0, "N"].max()
    kan_beyond = next(ln for ln in beyond.get_lines() if ln.get_label().split(" (off scale")[0] == "KAN")
    x, y = np.asarray(kan_beyond.get_xdata()), np.asarray(kan_beyond.get_ydata(), dtype=float)
    assert np.isfinite(y[x >= last]).all() and not np.isfinite(y[x < last]).any()


def test_reference_gap_is_not_a_failed_prediction_and_runaway_is_clipped(chain_run):
    surface = pd.read_csv(chain_run / "extrapolation.csv")
    surface.loc[surface.index[-1], "ME_ws4"] = np.nan  # the reference table lacks a nucleus
    runaway = surface.copy()
    runaway.loc[runaway["distance"] > 0, "ME_kan"] += 1e4  # a diverging network
    fig = figures.chain_plot(runaway, ("kan", "formula"), ("frdm12", "ws4"), "Sn")
    labels = _labelled(fig.axes[1])
    assert not any("WS4 NaN" in lb for lb in labels)
    assert any(lb.startswith("KAN (off scale") for lb in labels)
    lo, hi = fig.axes[1].get_ylim()
    assert hi - lo < 1e3  # the other curves are not squashed by the runaway


def test_other_figures_have_legends_and_labels(chain_run):
    preds = pd.read_csv(chain_run / "predictions.csv")
    _check_legends(figures.nz_plot(preds, title="t"))
    cands = pd.read_csv(chain_run / "candidates.csv")
    _check_legends(figures.candidates_plot(cands, "departure"))
    cfg, stage = load_run_stage(chain_run)
    from kansym.symbolic.formula import fit_network
    from kansym.symbolic.library import resolve_library

    ds = stage.dataset
    masks = ds.masks()
    reg = stage.kept[0].snapshot("coarse")
    net = fit_network(reg, ds.X[masks["train"]], resolve_library("poly"), r2_min=0.9, on_poor="best")
    plots = list(figures.edge_plots(reg, net, ds.X[masks["train"]], ds.feature_names, r2_min=0.999999))
    assert plots
    for (name, fig), e in zip(plots, net.edges):
        ax = fig.axes[0]
        assert name == f"edge_{e.layer}_{e.i}_{e.j}.png"
        assert ax.get_xlabel() and ax.get_ylabel() and fig.get_size_inches()[0] * fig.dpi >= 450
        _check_legends(fig)
        assert ("POORLY FITTED" in ax.get_title()) == (e.alternatives[0].r2 < 0.999999)
        if e.layer == 0:  # in physical units (Z or N of the nuclei >= 30), not the network's [-1, 1]
            lo, hi = ax.get_xlim()
            assert lo > 20 and hi > 50, (lo, hi)
            fit = next(ln for ln in ax.get_lines() if ln.get_label().endswith(")") and "fit" in ln.get_label())
            assert len(fit.get_xdata()) >= 200  # a smooth curve, not a polyline through the nuclei


def test_figures_leave_the_callers_backend_and_windows_alone(chain_run, tmp_path):
    """Figures are Figure objects: making and saving them switches no backend and opens no pyplot window
    (a notebook keeps its inline backend); pykan's network drawing closes only the figure it made."""
    import matplotlib.pyplot as plt

    from kansym.runs.store import save_figure

    before_backend, before_windows = matplotlib.get_backend(), plt.get_fignums()
    preds = pd.read_csv(chain_run / "predictions.csv")
    save_figure(figures.nz_plot(preds, title="t"), tmp_path / "nz.png")
    _, stage = load_run_stage(chain_run)
    save_figure(figures.network_diagram(stage.kept[0], stage.dataset.feature_names, stage.dataset.X), tmp_path / "net.png",
                bbox_inches="tight")
    assert matplotlib.get_backend() == before_backend and plt.get_fignums() == before_windows
    assert (tmp_path / "nz.png").stat().st_size > 1000 and (tmp_path / "net.png").stat().st_size > 1000


def test_every_figure_of_a_run_has_a_vector_pdf_twin(chain_run):
    """Each PNG a run writes (network, error map, edges, candidates, formula, chains, far maps) has a PDF beside it
    for a paper, and no PDF is left without its PNG."""
    pngs = sorted(chain_run.rglob("*.png"))
    assert len(pngs) >= 6 and any(p.name.startswith("chain_") for p in pngs)
    for p in pngs:
        twin = p.with_suffix(".pdf")
        assert twin.is_file() and twin.read_bytes()[:5] == b"%PDF-" and twin.stat().st_size > 1000, twin
    assert {p.with_suffix(".png") for p in chain_run.rglob("*.pdf")} == set(pngs)
    assert (chain_run / "figures" / "formula_residual_chart.png").is_file()  # the formula's map beside the KAN's


def test_discover_keeps_the_backend_a_notebook_set(tmp_path):
    """A process that chose its own backend (a notebook's inline one, here 'svg') keeps it through discover."""
    import subprocess
    import sys

    code = ("import matplotlib; matplotlib.use('svg'); import sys; sys.path.insert(0, 'tests')\n"
            "from conftest import tiny_config\nfrom kansym.pipeline.discovery import discover\n"
            f"discover(tiny_config(__import__('pathlib').Path({str(tmp_path)!r}), stage='symbolic', lib='poly', features='zn'))\n"
            "print(matplotlib.get_backend())")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().splitlines()[-1] == "svg"


def test_figures_read_in_greyscale_and_compare_on_one_scale(chain_run):
    """Chain series differ by marker and line style as well as colour, legends sit beside the data; the N-Z map
    has equal aspect and its RMS in the panel; the KAN's and the formula's far maps share one colour limit."""
    surface = pd.read_csv(chain_run / "extrapolation.csv")
    fig = figures.chain_plot(surface, ("kan", "formula"), ("frdm12", "ws4"), "Sn")
    top = fig.axes[1]
    styles = {ln.get_label().split(" (off scale")[0]: (ln.get_marker(), ln.get_linestyle()) for ln in top.get_lines()
              if ln.get_label().split(" (off scale")[0] in ("KAN", "formula", "WS4", "AME2020")}
    assert len(styles) == 4 and len(set(styles.values())) == 4
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()
    for ax in fig.axes:
        legend = ax.get_legend()
        assert legend is not None and legend.get_bbox_to_anchor().x0 >= ax.get_window_extent().x1 - 1
    preds = pd.read_csv(chain_run / "predictions.csv")
    nz = figures.nz_plot(preds, title="t")
    ax = nz.axes[0]
    assert ax.get_aspect() == 1.0 and any(t.get_text().startswith("RMS ") for t in ax.texts)
    cfg, stage = load_run_stage(chain_run)
    from kansym.checks.farcheck import make_judge
    from kansym.pipeline.config import load_dataset

    judge = make_judge(load_dataset(cfg), cfg.selection(), cfg.features)
    diffs = [np.linspace(-1, 1, len(judge.dom)), np.linspace(-5, 5, len(judge.dom))]
    limit = figures.far_limit(diffs)
    assert limit == pytest.approx(np.percentile(np.abs(diffs[1]), 99))
    maps = [figures.far_plot(judge.dom, d, "t", limit=limit) for d in diffs]
    scales = [m.axes[0].collections[0].get_clim() for m in maps]
    assert scales[0] == scales[1] == (-limit, limit)
    assert all(any("beyond" in t.get_text() for t in m.axes[0].texts) for m in maps)


def test_a_pdf_twin_has_no_creation_date(tmp_path):
    """The same figure saved twice, a second apart, gives the same PDF bytes (same seed, same bytes)."""
    import time

    from kansym.runs.store import save_figure

    fig = figures.new_figure(figsize=(3, 2))
    fig.subplots().plot([0, 1], [1, 0], label="x")
    save_figure(fig, tmp_path / "a.png")
    time.sleep(1.1)
    save_figure(fig, tmp_path / "b.png")
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()
    assert b"CreationDate" not in (tmp_path / "a.pdf").read_bytes()


def test_network_figure_draws_every_edge_legibly(chain_run):
    """network.png: one panel per edge of the pruned network (pruned ones grey and empty), first-layer edges against
    their inputs in physical units, each panel titled with its edge and spread, the inputs and output named."""
    cfg, stage = load_run_stage(chain_run)
    ds = stage.dataset
    from kansym.symbolic.formula import trace_network

    X = ds.X[ds.mask("train")]
    tr = trace_network(stage.kept[0], X)
    fig = figures.network_diagram(stage.kept[0], ds.feature_names, X, output="BE minus its ldx baseline")
    n_edges = sum(p.shape[1] * p.shape[2] for p in tr.post)
    assert len(fig.axes) == n_edges
    assert f"[{', '.join(str(a.shape[1]) for a in tr.acts)}]" in fig._suptitle.get_text()
    assert "BE minus its ldx baseline" in fig._suptitle.get_text()
    first = fig.axes[:tr.post[0].shape[1] * tr.post[0].shape[2]]
    for k, ax in enumerate(first):
        name = ds.feature_names[k % len(ds.feature_names)]
        assert ax.get_title().startswith(f"{name} $\\to$ h")
        active = tr.mask[0][k // len(ds.feature_names), k % len(ds.feature_names)] > 0
        assert ("$\\sigma$ =" in ax.get_title()) == bool(active) and len(ax.get_lines()) == int(active)
        if active:
            lo, hi = ax.get_xlim()
            col = X[:, k % len(ds.feature_names)]
            assert lo <= col.min() and hi >= col.max() and hi - lo <= 1.2 * (col.max() - col.min()) + 1e-9
    assert all(ax.get_title().endswith(")") or "output" in ax.get_title() for ax in fig.axes[len(first):])
    assert fig.get_size_inches()[0] >= 1.9 * max(a.shape[1] for a in tr.acts[:-1])
