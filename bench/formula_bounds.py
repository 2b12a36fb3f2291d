"""How low can a liquid drop plus shell terms go? Exhaustive least-squares bounds for the default-input target.

Selection: the nuclei of ``kansym discover --target be --subset even-even`` (538 AME2020 even-even nuclei, Z, N >= 30,
no uncertainty cut). Base: the default baseline ``ldx`` for even-even nuclei (volume, surface, Coulomb, symmetry,
Wigner, surface symmetry; pairing is constant here) plus a constant, 7 constants. To it, every subset of k terms
(k = 1 .. 5, so 8 .. 12 constants in all) of a dictionary of shell terms is fitted by linear least squares on ALL
538 nuclei, and the best subset's RMSE is printed. A formula of that family chosen by ``kansym discover`` is
fitted on the training nuclei only, so its RMSE over all nuclei cannot be lower: these are lower bounds for linear
shell terms (a nonlinear term with extra constants inside, e.g. c sin(c' s_Z + ...), is not covered).

Dictionaries (features as ``kansym.nuclear.features`` defines them; S = s_Z + s_N, Q = s_Z s_N, T = t_Z + t_N,
a = A^(-1/3)):
- ``valence``: what the default inputs (v_Z, v_N) and the shell-occupancy sets (zns, znsp) give:
  v_Z, v_N, v_Z v_N, v_Z^2, v_N^2, (v_Z + v_N)^2, s_Z, s_N, s_Z^2, s_N^2, S, S^2, Q, S a, S^2 a, Q a, P_NZ, P_NZ^2;
- ``valence+three-body``: the same plus t_Z, t_N, T, T a (the feature set znst).

The target of the physics-horizon issue for the default inputs is RMSE(all) <= 0.6 MeV with <= 12 constants.

Residual part (the KAN-WS4 target: WS4 + a closed-form correction <= 0.25 MeV on the test nuclei with <= 30
constants): on the nuclei and the random 80/20 split of ``kansym discover --target residual --model ws4`` (its
defaults: 2340 nuclei, split seed 0), families of corrections linear in their constants are fitted by least squares
on the training nuclei and WS4 + correction is scored on the test nuclei: the KAN-WS4 inputs P and S; shell
occupancies and their products; pairing and isospin terms; low-order Fourier series in Z and N; and, as a bound
for any additive correction g(Z) + h(N), one free constant per proton and per neutron number. Two families that are
not additive in Z and N: products sin/cos(pi k Z / 120) sin/cos(pi l N / 180) (k, l <= 12) and the shell inputs,
chosen term by term on the training nuclei up to 30 constants; and 7 Gaussian bumps in the (Z, N) plane whose
centres and widths are fitted too (29 constants). A third: those products and the shell inputs, also multiplied
by sines and cosines of Z, N and A, with pairing indicators likewise, chosen term by term with the chosen terms
projected out (30 constants), on the default split and on split seeds 0-4 (median and spread), its largest
correction over WS4's whole range beside it. A sine with a fitted frequency, as kansym chooses, is what the
symbolic benchmark measures. For
contrast, no formula: each test nucleus given the distance-weighted mean error of WS4 on its 4 nearest training
nuclei in the (Z, N) plane.
"""

import itertools
import time

import numpy as np
from _common import write_result

import kansym
from kansym.nuclear.features import all_features

TARGET_MEV, MAX_CONSTANTS = 0.6, 12


def dictionaries(f, a):
    sz, sn, tz, tn, vz, vn, p = (f[c].to_numpy() for c in ("s_Z", "s_N", "t_Z", "t_N", "v_Z", "v_N", "P_NZ"))
    s, q, t = sz + sn, sz * sn, tz + tn
    valence = {"v_Z": vz, "v_N": vn, "v_Z v_N": vz * vn, "v_Z^2": vz ** 2, "v_N^2": vn ** 2,
               "(v_Z+v_N)^2": (vz + vn) ** 2, "s_Z": sz, "s_N": sn, "s_Z^2": sz ** 2, "s_N^2": sn ** 2, "S": s,
               "S^2": s ** 2, "Q": q, "S a": s * a, "S^2 a": s ** 2 * a, "Q a": q * a, "P_NZ": p, "P_NZ^2": p ** 2}
    return {"valence": valence,
            "valence+three-body": {**valence, "t_Z": tz, "t_N": tn, "T": t, "T a": t * a}}


def main():
    df = kansym.nuclei(subset="even-even", min_z=30, min_n=30, max_unc=None)
    z, n = df["Z"].to_numpy(float), df["N"].to_numpy(float)
    A, I, y = z + n, n - z, df["BE"].to_numpy()
    a = A ** (-1 / 3)
    base = np.c_[A, A ** (2 / 3), z * (z - 1) * a, I ** 2 / A, np.abs(I) / A, I ** 2 * A ** (-4 / 3), np.ones_like(A)]

    def rmse(cols):
        X = np.c_[base, *cols] if cols else base
        c, *_ = np.linalg.lstsq(X, y, rcond=None)
        return float(np.sqrt(np.mean((X @ c - y) ** 2)))

    out = {"selection": f"{len(y)} AME2020 even-even nuclei, Z, N >= 30, no uncertainty cut (all of them fitted)",
           "base": "ldx (even-even: 6 terms) + constant = 7 constants",
           "target": {"rmse_all_mev": TARGET_MEV, "max_constants": MAX_CONSTANTS},
           "ldx_alone_mev": rmse([]), "dictionaries": {}}
    print(f"ldx + constant alone: {out['ldx_alone_mev']:.3f} MeV (7 constants)")
    for name, terms in dictionaries(all_features(df["Z"], df["N"]), a).items():
        t0, rows = time.perf_counter(), []
        keys = list(terms)
        for k in range(1, MAX_CONSTANTS - base.shape[1] + 1):
            best = min((rmse([terms[c] for c in combo]), combo) for combo in itertools.combinations(keys, k))
            rows.append({"constants": base.shape[1] + k, "best_rmse_all_mev": best[0], "terms": list(best[1])})
            print(f"{name:>20}: {base.shape[1] + k:2d} constants  best {best[0]:.3f} MeV  (ldx + {', '.join(best[1])})",
                  flush=True)
        reach = [r["constants"] for r in rows if r["best_rmse_all_mev"] <= TARGET_MEV]
        out["dictionaries"][name] = {"terms": keys, "best_by_constants": rows, "wall_s": time.perf_counter() - t0,
                                     "target_reachable_with_constants": min(reach) if reach else None}
        print(f"{name:>20}: <= {TARGET_MEV} MeV " + (f"reachable with {min(reach)} constants" if reach else
                                                      f"not reachable with <= {MAX_CONSTANTS} constants"))
    out["residual"] = residual_bounds()
    write_result("formula_bounds", out)


RESIDUAL_TARGET_MEV, RESIDUAL_MAX_CONSTANTS = 0.25, 30


def residual_bounds() -> dict:
    """Test RMSE of WS4 + linear corrections fitted on the training nuclei of the default KAN-WS4 run."""
    from kansym.pipeline.config import DiscoverConfig, load_dataset

    cfg = DiscoverConfig(target="residual", model="ws4").resolved(environment=False)
    ds = load_dataset(cfg)
    y, train, test = ds.y, ds.mask("train"), ds.mask("test")
    f = all_features(ds.frame["Z"].to_numpy(int), ds.frame["N"].to_numpy(int))
    z, n = f["Z"].to_numpy(), f["N"].to_numpy()
    A, I = z + n, (n - z) / (z + n)
    sz, sn, tz, tn = (f[c].to_numpy() for c in ("s_Z", "s_N", "t_Z", "t_N"))
    zeo, neo = f["Z_EO"].to_numpy(), f["N_EO"].to_numpy()
    shell = [sz, sn, tz, tn, sz * sn, sz ** 2, sn ** 2, tz * tn, sz * tn, tz * sn]
    pairing = [zeo, neo, zeo * neo, zeo / np.sqrt(A), neo / np.sqrt(A), zeo * neo / A, I, I ** 2, np.abs(I)]

    def fourier(k_max):
        return [fn(np.pi * k * v / span) for k in range(1, k_max + 1) for v, span in ((z, 120.0), (n, 180.0))
                for fn in (np.sin, np.cos)]

    def one_per_value(v):
        return [(v == u).astype(float) for u in np.unique(v)[1:]]

    families = {"P, S (KAN-WS4 inputs)": [f["P"].to_numpy(), f["S"].to_numpy()],
                "shell occupancies and products": shell, "pairing and isospin": pairing,
                "shell + pairing": shell + pairing, "Fourier in Z and N, 5 harmonics": fourier(5),
                "Fourier in Z and N, 7 harmonics": fourier(7), "Fourier in Z and N, 12 harmonics": fourier(12),
                "one constant per Z": one_per_value(z), "one constant per Z and per N": one_per_value(z) + one_per_value(n)}
    rows = []
    print(f"WS4 alone: test {np.sqrt(np.mean(y[test] ** 2)):.3f} MeV ({test.sum()} test, {train.sum()} training nuclei)")
    for name, cols in families.items():
        X = np.c_[np.ones_like(y), *cols]
        c, *_ = np.linalg.lstsq(X[train], y[train], rcond=None)
        r = X @ c - y
        rows.append({"family": name, "constants": X.shape[1], "rmse_train_mev": float(np.sqrt(np.mean(r[train] ** 2))),
                     "rmse_test_mev": float(np.sqrt(np.mean(r[test] ** 2)))})
        print(f"{name:>34}: {X.shape[1]:3d} constants  WS4 + correction train {rows[-1]['rmse_train_mev']:.3f} / "
              f"test {rows[-1]['rmse_test_mev']:.3f} MeV", flush=True)
    rows.append(stepwise_products(y, train, test, z, n, [f[c].to_numpy() for c in SHELL_INPUTS]))
    rows.append(modulated(y, train, test, z, n))
    rows.append(gaussian_bumps(y, train, test, z, n))
    from sklearn.neighbors import KNeighborsRegressor

    zn = np.c_[z, n]
    local = KNeighborsRegressor(4, weights="distance").fit(zn[train], y[train]).predict(zn)
    neighbours = {"k": 4, "rmse_test_mev": float(np.sqrt(np.mean((local[test] - y[test]) ** 2)))}
    print(f"{'4 nearest training nuclei in (Z, N)':>34}: no closed form; WS4 + their distance-weighted mean error: "
          f"test {neighbours['rmse_test_mev']:.3f} MeV")
    within = [r for r in rows if r["constants"] <= RESIDUAL_MAX_CONSTANTS]
    best = min(within, key=lambda r: r["rmse_test_mev"])
    print(f"residual target <= {RESIDUAL_TARGET_MEV} MeV with <= {RESIDUAL_MAX_CONSTANTS} constants: best of these "
          f"{best['rmse_test_mev']:.3f} MeV ({best['family']})")
    return {"selection": f"{len(y)} nuclei of the default KAN-WS4 run, split {cfg.split} (seed {cfg.seed})",
            "ws4_alone_test_mev": float(np.sqrt(np.mean(y[test] ** 2))), "families": rows,
            "target": {"rmse_test_mev": RESIDUAL_TARGET_MEV, "max_constants": RESIDUAL_MAX_CONSTANTS},
            "best_within_constants": best, "nearest_neighbours": neighbours,
            "modulated_over_splits": modulated_over_splits()}


SHELL_INPUTS = ("s_Z", "s_N", "t_Z", "t_N", "P", "S", "v_Z", "v_N")


def _scored(name, constants, r, train, test):
    row = {"family": name, "constants": constants, "rmse_train_mev": float(np.sqrt(np.mean(r[train] ** 2))),
           "rmse_test_mev": float(np.sqrt(np.mean(r[test] ** 2)))}
    print(f"{name[:34]:>34}: {constants:3d} constants  WS4 + correction train {row['rmse_train_mev']:.3f} / "
          f"test {row['rmse_test_mev']:.3f} MeV", flush=True)
    return row


def stepwise_products(y, train, test, z, n, shell, k_max=12):
    """Terms sin/cos(pi k Z / 120) sin/cos(pi l N / 180), k, l = 0 .. k_max, and the shell inputs, added one at a time
    (the term most correlated with the training residual) up to the constants allowed; chosen on the training nuclei
    only."""
    cols = [np.asarray(c, float) for c in shell]
    for k in range(k_max + 1):
        for l in range(k_max + 1):
            for fz in ((np.cos,) if k == 0 else (np.sin, np.cos)):
                for fn in ((np.cos,) if l == 0 else (np.sin, np.cos)):
                    if k or l:
                        cols.append(fz(np.pi * k * z / 120.0) * fn(np.pi * l * n / 180.0))
    M = np.c_[tuple(cols)]
    centred = M[train] - M[train].mean(0)
    norms = np.linalg.norm(centred, axis=0)
    X, chosen = np.ones((len(y), 1)), []
    while X.shape[1] < RESIDUAL_MAX_CONSTANTS:
        c, *_ = np.linalg.lstsq(X[train], y[train], rcond=None)
        score = np.abs(centred.T @ (y[train] - X[train] @ c)) / norms
        score[chosen] = -1.0
        chosen.append(int(np.argmax(score)))
        X = np.c_[X, M[:, chosen[-1]]]
    c, *_ = np.linalg.lstsq(X[train], y[train], rcond=None)
    return _scored(f"products of sines and cosines in Z and N (k, l <= {k_max}) and shell inputs, chosen term by "
                   f"term on the training nuclei", X.shape[1], X @ c - y, train, test)


def modulated_dictionary(z, n, shell: dict) -> dict:
    """Terms of the modulated family at nuclei (z, n): the Fourier products of :func:`stepwise_products`, the shell
    inputs and pairing indicators (Z even, N even, even-even, odd-odd), each alone and times sin/cos(pi k x / span)
    (k <= 8; x = Z, N, A over 120, 180, 300), and the indicators over A and sqrt(A). Every term is bounded for A >= 1."""
    z, n = np.asarray(z, float), np.asarray(n, float)
    ez, en = (z % 2 == 0).astype(float), (n % 2 == 0).astype(float)
    out = {}
    for k in range(13):
        for l in range(13):
            for fz, gz in ((("c", np.cos),) if k == 0 else (("s", np.sin), ("c", np.cos))):
                for fn, gn in ((("c", np.cos),) if l == 0 else (("s", np.sin), ("c", np.cos))):
                    if k or l:
                        out[f"{fz}{k}Z {fn}{l}N"] = gz(np.pi * k * z / 120.0) * gn(np.pi * l * n / 180.0)
    pairing = {"Z even": ez, "N even": en, "even-even": ez * en, "odd-odd": (1 - ez) * (1 - en)}
    for name, v in {**shell, **pairing}.items():
        out[name] = v
        for k in range(1, 9):
            for x, span, label in ((z, 120.0, "Z"), (n, 180.0, "N"), (z + n, 300.0, "A")):
                out[f"{name} s{k}{label}"] = v * np.sin(np.pi * k * x / span)
                out[f"{name} c{k}{label}"] = v * np.cos(np.pi * k * x / span)
    for name, v in pairing.items():
        out[f"{name} / A"], out[f"{name} / sqrt(A)"] = v / (z + n), v / np.sqrt(z + n)
    return out


def modulated(y, train, test, z, n, split=None):
    """Forward selection (each step adds the term most correlated with the training residual once the chosen terms
    are projected out) from :func:`modulated_dictionary`, up to the constants allowed, on the training nuclei only;
    the correction's largest magnitude over WS4's whole range is measured too."""
    from kansym.nuclear.tables import load_model

    def terms(zz, nn):
        f = all_features(np.asarray(zz, int), np.asarray(nn, int))
        return modulated_dictionary(zz, nn, {c: f[c].to_numpy() for c in SHELL_INPUTS})

    names, M = _matrix(terms(z, n))
    scale = np.linalg.norm(M[train], axis=0)
    M = M / scale
    X, chosen = np.ones((len(y), 1)), []
    while X.shape[1] < RESIDUAL_MAX_CONSTANTS:
        c, *_ = np.linalg.lstsq(X[train], y[train], rcond=None)
        q, _ = np.linalg.qr(X[train])
        rest = M[train] - q @ (q.T @ M[train])
        norms = np.linalg.norm(rest, axis=0)
        score = np.abs(rest.T @ (y[train] - X[train] @ c)) / np.where(norms > 1e-9, norms, np.inf)
        score[chosen] = -1.0
        chosen.append(int(np.argmax(score)))
        X = np.c_[X, M[:, chosen[-1]]]
    c, *_ = np.linalg.lstsq(X[train], y[train], rcond=None)
    ws4 = load_model("ws4")
    _, W = _matrix(terms(ws4["Z"].to_numpy(), ws4["N"].to_numpy()))
    over = np.c_[np.ones(len(W)), W[:, chosen] / scale[chosen]] @ c
    label = "sines and cosines in Z and N, their products, and their products with shell inputs and pairing " \
            "indicators, chosen term by term on the training nuclei"
    row = _scored(label if split is None else f"{label} (split seed {split})", X.shape[1], X @ c - y, train, test)
    row["terms"] = [names[j] for j in chosen]
    row["max_abs_correction_over_ws4_mev"] = float(np.max(np.abs(over)))
    row["ws4_nuclei"] = int(len(W))
    return row


def _matrix(terms: dict) -> tuple[list, np.ndarray]:
    return list(terms), np.c_[tuple(terms.values())]


def modulated_over_splits(seeds=range(5)) -> dict:
    """The modulated family on the random 80/20 splits of seeds ``seeds`` (WS4 alone on each split beside it)."""
    from kansym.pipeline.config import DiscoverConfig, load_dataset

    rows = []
    for seed in seeds:
        ds = load_dataset(DiscoverConfig(target="residual", model="ws4", seed=seed).resolved(environment=False))
        test = ds.mask("test")
        row = modulated(ds.y, ds.mask("train"), test, ds.frame["Z"].to_numpy(int), ds.frame["N"].to_numpy(int), seed)
        rows.append({"split_seed": seed, "ws4_alone_test_mev": float(np.sqrt(np.mean(ds.y[test] ** 2))),
                     **{k: row[k] for k in ("constants", "rmse_train_mev", "rmse_test_mev",
                                            "max_abs_correction_over_ws4_mev")}})
    test = [r["rmse_test_mev"] for r in rows]
    met = sum(t <= RESIDUAL_TARGET_MEV for t in test)
    print(f"modulated family over split seeds {list(seeds)}: test median {np.median(test):.3f} MeV "
          f"({min(test):.3f}-{max(test):.3f}); <= {RESIDUAL_TARGET_MEV} on {met} of {len(rows)}")
    return {"splits": rows, "median_test_mev": float(np.median(test)), "min_test_mev": float(min(test)),
            "max_test_mev": float(max(test)), "splits_meeting_target": met}


def gaussian_bumps(y, train, test, z, n, bumps=7, starts=8):
    """A constant plus ``bumps`` Gaussians a exp(-((Z - Z0)^2 + (N - N0)^2) / w^2) with a, Z0, N0, w fitted by
    nonlinear least squares on the training nuclei; best of ``starts`` random starts by training RMSE."""
    from scipy.optimize import least_squares

    def model(p, zz, nn):
        g = p[1:].reshape(bumps, 4)
        return p[0] + (g[:, :1] * np.exp(-((zz - g[:, 1:2]) ** 2 + (nn - g[:, 2:3]) ** 2) / np.exp(2 * g[:, 3:]))).sum(0)

    rng, best = np.random.default_rng(0), None
    for _ in range(starts):
        at = rng.choice(np.flatnonzero(train), bumps)
        p0 = np.r_[0.0, np.c_[rng.normal(0, 0.3, bumps), z[at], n[at], np.log(rng.uniform(3, 15, bumps))].ravel()]
        fit = least_squares(lambda p: model(p, z[train], n[train]) - y[train], p0, max_nfev=3000)
        if best is None or fit.cost < best.cost:
            best = fit
    return _scored(f"{bumps} Gaussian bumps in (Z, N), centres and widths fitted, best of {starts} starts",
                   1 + 4 * bumps, model(best.x, z, n) - y, train, test)


if __name__ == "__main__":
    main()
