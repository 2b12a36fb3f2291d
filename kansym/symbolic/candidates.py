"""Candidate formulas from one trained KAN, judged on the data and far outside it.

Routes: (1) the network's own composition for each function library (inner edge functions summed,
outer functions applied, a liquid-drop baseline kept with its named constants), all constants
refitted jointly; (2) a variant whose last layer is kept linear; (3) structural pruning: edges
removed one at a time (each replaced by its mean), the composition kept and refitted at every
size; (4) backward elimination of top-level additive terms; (5) the fully expanded
linear-in-coefficients form; (6) the joint edge search: the composition rebuilt with other well-fitting
functions on its edges (each edge's few best library fits), every combination refitted jointly, so that a
function the per-edge rule passes over (x^(2/3) beside the simpler sqrt) wins where it fits better in the
composition; (7) the power-law route (:mod:`kansym.symbolic.powers`); (8) the shell-term route
(:mod:`kansym.symbolic.shells`); (9) the mode route for residual targets (:mod:`kansym.symbolic.modes`).
Every candidate is refitted on the training nuclei, rejected if it is non-finite on the data (or not real), and
judged by a far-extrapolation check (``kansym.checks.farcheck``) over the
reference table's whole (Z, N) domain; a candidate failing that check is never chosen.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import sympy as sp

from kansym.errors import KansymError
from kansym.symbolic.formula import (
    Formula,
    SymbolicNetwork,
    check_finite,
    fit_network,
    network_formula,
    parameterize,
    past_deadline,
    refit,
    variable_symbols,
)
from kansym.metrics import pareto_mask, rms, rmse_by_split
from kansym.nuclear.baselines import LIQUID_DROP
from kansym.symbolic import modes, powers, shells
from kansym.symbolic.library import resolve_library


@dataclass(frozen=True)
class FormulaCandidate:
    """A refitted formula with its provenance and scores (RMSE in MeV).

    ``far``: its far-extrapolation check (a :class:`kansym.checks.farcheck.FarCheck`), None if not judged.
    """

    name: str
    formula: Formula
    rmse: dict  # train / test / all after refit
    rmse_before_refit: dict
    kan_agreement: float  # RMS(symbolic network - KAN) before refit, on all nuclei
    network: SymbolicNetwork | None = None
    route: str = "structured"
    far: object | None = None

    @property
    def n_constants(self) -> int:
        return self.formula.n_constants

    @property
    def sane(self) -> bool:
        return self.far is None or self.far.passed

    @property
    def far_departure(self) -> float:
        """The third choice axis [MeV]: RMS departure beyond AME2020 (NaN if not judged)."""
        return float(self.far.departure_rms) if self.far is not None else float("nan")



Judge = Callable[[Formula], object]


@dataclass(frozen=True)
class Scoring:
    """What every candidate is refitted and scored on: the nuclei's inputs ``X`` (columns named ``names``),
    targets ``y`` [MeV], the split ``masks`` (train, test, all) and the far-extrapolation ``judge`` (None: not
    judged)."""

    names: tuple[str, ...]
    X: np.ndarray
    y: np.ndarray
    masks: dict
    judge: Judge | None = None
    w: np.ndarray | None = None  # weights of the refits (None: unweighted); scores stay plain RMSE

    @property
    def X_train(self) -> np.ndarray:
        return self.X[self.masks["train"]]

    @property
    def y_train(self) -> np.ndarray:
        return self.y[self.masks["train"]]

    @property
    def w_train(self) -> np.ndarray | None:
        return None if self.w is None else self.w[self.masks["train"]]

    def scores(self, pred: np.ndarray) -> dict:
        """RMSE per split [MeV] of a prediction on every nucleus."""
        return rmse_by_split(pred, self.y, self.masks)


@dataclass(frozen=True)
class Origin:
    """Where a candidate comes from: the RMSE per split of its symbolic network before the refit, that network's
    RMS agreement with the KAN [MeV], the network itself and the candidate route."""

    before: dict
    agreement: float
    network: SymbolicNetwork | None = None
    route: str = "structured"

    def via(self, route: str, network=None) -> "Origin":
        return Origin(self.before, self.agreement, network, route)

    @staticmethod
    def of(cand: FormulaCandidate) -> "Origin":
        return Origin(cand.rmse_before_refit, cand.kan_agreement, cand.network, cand.route)


def refit_budget(n_constants: int) -> int:
    """Function evaluations one refit may use: 100 per constant (plus 100), at most 3000."""
    return int(min(3000, 100 * (n_constants + 1)))


MAX_JOINT_CONSTANTS = 40  # larger compositions are pruned to fewer edges before any joint refit


def score_formula(name: str, formula: Formula, data: Scoring, origin: Origin) -> FormulaCandidate:
    """A refitted formula as a candidate: RMSE on every split and its far-extrapolation check; a formula that is
    not finite on the data is refused (KansymError)."""
    check_finite(formula, data.X, "the selected nuclei")
    return FormulaCandidate(name, formula, data.scores(formula.evaluate(data.X)), origin.before, origin.agreement,
                            origin.network, origin.route, data.judge(formula) if data.judge is not None else None)


def _network_origin(net: SymbolicNetwork, data: Scoring, kan_pred: np.ndarray | None,
                    route: str = "structured") -> Origin:
    """The origin of a candidate built from the symbolic network ``net``: its scores before the refit and its
    agreement with the KAN's prediction ``kan_pred`` (NaN without it)."""
    pred = net.numeric(data.X)
    return Origin(data.scores(pred), rms(pred - kan_pred) if kan_pred is not None else float("nan"), net, route)


def _refitted(name: str, expr: sp.Expr, init: dict, data: Scoring, origin: Origin,
              not_converged: list, linear_start: bool = False) -> FormulaCandidate | None:
    """``expr`` refitted on the training nuclei from the constants ``init`` (its linear constants solved for first
    with ``linear_start``) and scored; None, with a note in ``not_converged``, when the refit fails or the result is
    not finite on the data."""
    try:
        formula = refit(expr, init, data.names, data.X_train, data.y_train, max_nfev=refit_budget(len(init)),
                        accept_budget_end=True, sample_weight=data.w_train, linear_start=linear_start)
        return score_formula(name, formula, data, origin)
    except KansymError as exc:
        not_converged.append(f"{name} ({str(exc).split(';')[0]})")
        return None


def _without_term(cand: FormulaCandidate, term: sp.Expr, name: str, data: Scoring, max_nfev: int,
                  origin: Origin) -> FormulaCandidate | None:
    """``cand`` with one top-level additive ``term`` removed and the rest refitted (None if the refit fails)."""
    f = cand.formula
    expr = f.expr - term
    init = {s: p.value for s, p in zip(f.param_symbols, f.parameters) if s in expr.free_symbols}
    try:
        g = refit(expr, init, f.variables, data.X_train, data.y_train, max_nfev=max_nfev, sample_weight=data.w_train)
        return score_formula(name, g, data, origin)
    except KansymError:
        return None


def eliminate_terms(cand: FormulaCandidate, data: Scoring, min_terms: int = 1, max_terms: int = 12,
                    max_nfev: int = 300) -> list[FormulaCandidate]:
    """Greedy backward elimination of top-level additive terms, each trial refitted (at most
    ``max_nfev`` evaluations); formulas with more than ``max_terms`` terms are left to the expanded route."""
    out = []
    current = cand
    if len(sp.Add.make_args(cand.formula.expr)) > max_terms:
        return out
    while True:
        terms = [t for t in sp.Add.make_args(current.formula.expr) if t.free_symbols & set(current.formula.param_symbols)]
        if len(terms) <= min_terms:
            break
        best = None
        for t in terms:
            c = _without_term(current, t, f"{cand.name}-{len(out) + 1}", data, max_nfev,
                              Origin.of(current).via("terms"))
            if c is None:
                continue
            if best is None or c.rmse["train"] < best.rmse["train"]:
                best = c
        if best is None:
            break
        out.append(best)
        current = best
    return out


def pareto_front(cands: list[FormulaCandidate]) -> list[FormulaCandidate]:
    """Candidates that pass the far-extrapolation check and are not beaten on constants, train RMSE
    and far departure together (a candidate failing the check is never on the front)."""
    def key(c):
        d = c.far_departure
        return (c.n_constants, c.rmse["train"], d if np.isfinite(d) else np.inf)

    front = pareto_mask([key(c) for c in cands], [c.sane for c in cands]) if cands else []
    return sorted((c for c, on in zip(cands, front) if on), key=key)


def prune_edges(name: str, net: SymbolicNetwork, data: Scoring, origin: Origin, max_nfev: int = 400,
                refit_edges: int = 8, max_params: int | None = None) -> list[FormulaCandidate]:
    """Structural pruning: remove the edge whose removal (the edge replaced by its mean) raises the
    training RMSE least, refit the remaining composition jointly, and repeat until no edge is left.
    Compositions with more than ``refit_edges`` edges or more than ``max_params`` constants are pruned
    without being refitted (a formula that large exceeds any sensible number of constants)."""
    X_train, y_train = data.X_train, data.y_train
    out, current, seen = [], net, set()
    while current.active_edges() and not past_deadline():
        trials = []
        for k in current.active_edges():
            reduced = current.drop_edge(k, X_train)
            err = rms(reduced.numeric(X_train) - y_train)
            trials.append((err if np.isfinite(err) else np.inf, k, reduced))
        _, _, current = min(trials, key=lambda t: (t[0], t[1]))
        if len(current.active_edges()) > refit_edges:
            continue
        expr, init = network_formula(current, data.names)
        if not init or sp.srepr(expr) in seen or (max_params is not None and len(init) > max_params):
            continue
        seen.add(sp.srepr(expr))
        try:
            f = refit(expr, init, data.names, X_train, y_train, max_nfev=min(max_nfev, refit_budget(len(init))),
                      accept_budget_end=True, sample_weight=data.w_train)
            out.append(score_formula(f"{name}-pruned-{len(current.active_edges())}", f, data,
                                     origin.via("pruned", current)))
        except KansymError:
            continue
    return out


def without_constant(cand: FormulaCandidate, data: Scoring, max_nfev: int = 400) -> FormulaCandidate | None:
    """The candidate without its free additive constant, refitted (None if it has none or the refit
    fails). Over A = 60-260 a constant is nearly degenerate with the pairing term a_P A^(-1/2)."""
    consts = [t for t in sp.Add.make_args(cand.formula.expr) if t in set(cand.formula.param_symbols)]
    if not consts:
        return None
    return _without_term(cand, consts[0], f"{cand.name}-noconst", data, max_nfev, Origin.of(cand))


def edge_variants(libraries, on_poor: str, last: int) -> list[tuple]:
    """(candidate name, library, layers restricted to {0, x}, handling of poorly fitted edges) of each variant of
    the edge fits: one per library, the first library with the last layer or the inner layers linear, and with
    ``on_poor='best'`` each library with its poorly fitted edges dropped."""
    variants = [(lib, lib, (), on_poor) for lib in libraries] + [
        (libraries[0] + "-linear-out", libraries[0], (last,), on_poor),
        (libraries[0] + "-linear-in", libraries[0], tuple(range(last)), on_poor)]
    if on_poor == "best":  # also try dropping the poorly fitted edges
        variants += [(lib + "-zeroed", lib, (), "zero") for lib in libraries]
    return variants


def _variant_network(reg, X_train, lib, name: str, linear, poor: str, r2_min: float, fits: dict, seen: set,
                     notes: list):
    """The symbolic network of one variant (edge fits shared through ``fits``), or None when its fit fails (a note;
    with ``poor='error'`` the error is raised) or it has the same edge functions as an earlier variant."""
    try:
        net = fit_network(reg, X_train, lib, r2_min=r2_min, on_poor=poor, linear_layers=linear, cache=fits)
    except KansymError as exc:
        if poor == "error":
            raise
        notes.append(f"{name}: {exc}")
        return None
    key = tuple((e.layer, e.i, e.j, e.chosen.name) for e in net.edges) + (linear,)
    if key in seen:
        return None
    seen.add(key)
    return net


TOP_PER_EDGE = 3
"""Library functions per edge the joint search combines: the chosen one and the next best fits by R^2."""
PRIORITY_POWERS = ("x^(2/3)", "x^(1/3)", "x^(-1/3)")
"""Powers of the liquid drop (surface, Coulomb, curvature) the joint search offers on every edge whatever their rank
by R^2: on a narrow range sqrt, a shifted square or a sine fit an A^(2/3) edge as well, and the power wins only once
the composition is refitted jointly."""
MAX_JOINT_COMBINATIONS = 16
"""Combinations the joint search refits per network, those closest to the chosen functions first."""


def _rank_tuples(sizes: list[int], total: int):
    """Every tuple of ranks r_k < sizes[k] with sum ``total``."""
    if not sizes:
        if total == 0:
            yield ()
        return
    for r in range(min(total, sizes[0] - 1) + 1):
        for rest in _rank_tuples(sizes[1:], total - r):
            yield (r, *rest)


def joint_networks(net: SymbolicNetwork, top: int = TOP_PER_EDGE,
                   limit: int = MAX_JOINT_COMBINATIONS) -> list[SymbolicNetwork]:
    """``net`` with other functions on its active edges: each edge takes its chosen function, the identity x, one of
    the library's :data:`PRIORITY_POWERS` (best fit first), or one of its ``top`` - 1 next best library fits by R^2
    on the network's activations (never the zero function), in that order, with their fitted constants as starting
    values. The combinations are ordered by how far down the edges' rankings they
    reach (the sum of ranks), then by the R^2 they give up; the first ``limit`` are returned (the chosen
    combination itself is not)."""
    active = net.active_edges()
    options = []
    for k in active:
        e = net.edges[k]
        identity = [c for c in e.alternatives if c.name == "x" != e.chosen.name]  # a straight edge first: it lets
        # the next edge carry the shape the network split between the two, with fewer constants
        power = [c for c in e.alternatives if c.name in PRIORITY_POWERS and c.name != e.chosen.name]
        others = [c for c in e.alternatives if c.name not in ("0", "x", e.chosen.name) and c not in power]
        options.append([e.chosen, *identity, *power, *others[: top - 1]])
    sizes = [len(o) for o in options]
    out: list[SymbolicNetwork] = []
    for total in range(1, sum(sizes) - len(sizes) + 1):
        level = sorted(_rank_tuples(sizes, total),
                       key=lambda ranks: sum(options[m][0].r2 - options[m][r].r2 for m, r in enumerate(ranks)))
        for ranks in level:
            edges = list(net.edges)
            for m, (k, r) in enumerate(zip(active, ranks)):
                edges[k] = replace(edges[k], chosen=options[m][r])
            out.append(replace(net, edges=tuple(edges)))
            if len(out) >= limit:
                return out
    return out


def _joint_route(name: str, net: SymbolicNetwork, data: Scoring, kan_pred: np.ndarray | None, joint_limit: int,
                 not_converged: list) -> list[FormulaCandidate]:
    """Candidates of the joint edge search (:func:`joint_networks`) of variant ``name``'s network, each composition
    refitted jointly on the training nuclei (route 'joint'; compositions of more than ``joint_limit`` constants are
    left out). A swapped edge's constants were fitted to the activations of the network it came from, which the
    other swaps change: the constants that enter linearly are solved for first (amplitudes, offsets)."""
    out = []
    for k, other in enumerate(joint_networks(net), start=1):
        if past_deadline():
            break
        expr, init = network_formula(other, data.names)
        if len(init) > joint_limit:
            continue
        cand = _refitted(f"{name}-joint-{k}", expr, init, data, _network_origin(other, data, kan_pred, "joint"),
                         not_converged, linear_start=True)
        out += [cand] if cand is not None else []
    return out


def _record_poor_edges(net, linear, lib_name: str, r2_min: float, poor_edges: dict) -> None:
    """Note in ``poor_edges`` (edge -> library -> (R^2, best function)) the edges of ``net`` fitted below
    ``r2_min`` (edges of layers made linear do not count)."""
    for e in net.edges:
        if e.alternatives and e.alternatives[0].r2 < r2_min and e.layer not in linear:
            best = e.alternatives[0]
            poor_edges.setdefault((e.layer, e.i, e.j), {})[lib_name] = (best.r2, best.name)


def generation_notes(poor_edges: dict, on_poor: str, r2_min: float, too_large: list, joint_limit: int,
                      not_converged: list) -> list[str]:
    """One note per poorly fitted edge (whatever the number of candidates), and on compositions too large to be
    refitted jointly and refits that did not converge."""
    notes = []
    treatment = {"best": "candidates keep the best function or drop the edge (the '-zeroed' ones)",
                 "zero": "set to zero", "error": ""}[on_poor]
    for (layer, i, j), fits in poor_edges.items():
        best = ", ".join(f"{lib} {r2:.4f} ({fn})" for lib, (r2, fn) in fits.items())
        notes.append(f"edge (layer {layer}, input {i} -> node {j}) is poorly fitted: best R^2 {best} < {r2_min}; "
                     f"{treatment}")
    if too_large:
        notes.append(f"{len(too_large)} composition(s) have more than {joint_limit} constants and were "
                     "refitted only after pruning: " + "; ".join(too_large))
    if not_converged:
        notes.append(f"{len(not_converged)} candidate(s) left out because their refit did not converge: "
                     + "; ".join(not_converged))
    return notes


@dataclass(frozen=True)
class CandidateOptions:
    """How candidates are built from a network: edge-function ``libraries`` (each its own variant), the smallest
    acceptable edge R^2 and what to do below it (``on_poor``: best, zero or error), ``extra_functions`` added to
    every library, the ``routes`` beyond the structured one (pruned, terms, expanded, noconst, joint, powers, shells,
    modes), and the largest composition refitted jointly (``max_params`` constants, at most
    :data:`MAX_JOINT_CONSTANTS`); the mode route's candidates have at most ``max_constants`` (``max_params`` when
    None)."""

    libraries: tuple[str, ...] = ("physics", "poly")
    r2_min: float = 0.9
    on_poor: str = "error"
    extra_functions: tuple | None = None
    routes: tuple[str, ...] = ("pruned", "terms", "expanded", "noconst")
    max_params: int | None = None
    max_constants: int | None = None  # the chosen formula's limit: the mode route builds no candidate above it


def generate(reg, data: Scoring, options: CandidateOptions = CandidateOptions(),
             kan_pred: np.ndarray | None = None, consensus: np.ndarray | None = None
             ) -> tuple[list[FormulaCandidate], list[str]]:
    """All candidates for a trained regressor; returns (candidates, notes on rejected ones).

    ``data.judge`` scores each formula far outside the data (see ``kansym.checks.farcheck``); compositions with
    more than ``options.max_params`` constants are not refitted jointly, only once pruning has made them smaller;
    ``kan_pred`` (the network's prediction on ``data.X``) gives each candidate's agreement with the network;
    the shell-term and mode routes read ``consensus`` (the ensemble's prediction on ``data.X``) where given, so that
    every member of an ensemble reads the same prediction, else ``kan_pred``."""
    o = options
    libraries, r2_min, on_poor, routes, max_params = o.libraries, o.r2_min, o.on_poor, o.routes, o.max_params
    names = data.names
    notes, cands = [], []
    poor_edges: dict[tuple[int, int, int], dict[str, tuple[float, str]]] = {}  # edge -> library -> (R^2, best)
    not_converged: list[str] = []
    variants = edge_variants(libraries, on_poor, reg.model_.depth - 1 if hasattr(reg, "model_") else 1)
    seen = set()
    fits: dict = {}  # the network's trace and each edge's fits, shared by the variants
    too_large: list[str] = []
    joint_limit = MAX_JOINT_CONSTANTS if max_params is None else min(MAX_JOINT_CONSTANTS, max_params)
    # read off first: cheap, so a search budget that runs out never leaves them out
    cands += _consensus_routes(reg, data, o, kan_pred if consensus is None else consensus, not_converged)
    while variants:
        name, lib_name, linear, poor = variants.pop(0)
        if past_deadline():
            notes.append(f"the search budget ran out before candidates {name} and later variants were built")
            break
        net = _variant_network(reg, data.X_train, resolve_library(lib_name, o.extra_functions), name, linear, poor,
                               r2_min, fits, seen, notes)
        if net is None:
            continue
        _record_poor_edges(net, linear, lib_name, r2_min, poor_edges)
        origin = _network_origin(net, data, kan_pred)
        expr, init = network_formula(net, names)
        if len(init) > joint_limit:  # refitted only once pruning has made it smaller
            too_large.append(f"{name} ({len(init)})")
            if len(init) > MAX_JOINT_CONSTANTS and variants:  # a large network: its linear-output variant (the
                # fewest nested constants) is the only other one built, so the search ends within its budget
                notes.append(f"a composition of {len(init)} constants: of the other variants only "
                             f"{libraries[0]}-linear-out is built")
                variants = [v for v in variants if v[0] == libraries[0] + "-linear-out"]
        else:
            base = _refitted(name, expr, init, data, origin, not_converged)
            if base is not None:
                cands += [base, *(eliminate_terms(base, data) if "terms" in routes else ())]
        if "joint" in routes and name in (libraries[0], libraries[0] + "-linear-out"):
            cands.extend(_joint_route(name, net, data, kan_pred, joint_limit, not_converged))
        if "pruned" in routes:
            cands.extend(prune_edges(name, net, data, origin, max_params=max_params))
        if "expanded" in routes and not linear:
            cands.extend(expanded_candidates(name, net.expression(variable_symbols(names)), data, origin))
    cands += _power_route(reg, data, kan_pred, max_params, not_converged) if "powers" in routes else []
    notes += generation_notes(poor_edges, on_poor, r2_min, too_large, joint_limit, not_converged)
    if not cands:
        raise KansymError("no valid formula candidate: " + "; ".join(notes))
    if "noconst" in routes:
        cands.extend(c for c in (without_constant(c, data) for c in list(cands)
                                 if c.route in ("structured", "pruned")) if c is not None)
    return cands, notes


def _consensus_routes(reg, data: Scoring, o: CandidateOptions, read: np.ndarray | None, not_converged: list) -> list:
    """Candidates of the routes that read the ensemble's prediction ``read`` (the shell-term and mode routes)."""
    out = _shell_route(reg, data, read, o.max_params, not_converged) if "shells" in o.routes else []
    if "modes" in o.routes:
        out += _mode_route(data, read, o.max_params if o.max_constants is None else o.max_constants, not_converged)
    return out


def _power_route(reg, data: Scoring, kan_pred: np.ndarray, max_params: int | None, not_converged: list) -> list:
    """Candidates of the power-law route (:mod:`kansym.symbolic.powers`): the sets of liquid-drop-type terms that
    reproduce the network's prediction on the training nuclei best, each refitted on the data (none without it)."""
    if kan_pred is None:
        return []
    linear = getattr(reg, "baseline_kind", None) == "linear"
    return _read_off("powers", powers.power_candidates(
        data.names, data.X, data.masks["train"], kan_pred[data.masks["train"]], linear,
        max_params if max_params is not None else MAX_JOINT_CONSTANTS, data.w), data, kan_pred, not_converged)


def _shell_route(reg, data: Scoring, kan_pred: np.ndarray, max_params: int | None, not_converged: list) -> list:
    """Candidates of the shell-term route (:mod:`kansym.symbolic.shells`): the liquid drop plus the sets of shell
    terms that reproduce the network's prediction on the training nuclei best, each refitted on the data (none
    without the network's prediction or a liquid-drop baseline)."""
    trend = getattr(reg, "trend_", None)
    if kan_pred is None or trend is None or trend.kind not in LIQUID_DROP or not shells.has_shell_inputs(data.names):
        return []
    return _read_off("shells", shells.shell_candidates(
        data.names, data.X, data.masks["train"], kan_pred[data.masks["train"]], trend,
        max_params if max_params is not None else MAX_JOINT_CONSTANTS, data.w), data, kan_pred, not_converged)


def _mode_route(data: Scoring, kan_pred: np.ndarray, max_constants: int | None, not_converged: list) -> list:
    """Candidates of the mode route (:mod:`kansym.symbolic.modes`): a constant plus the modes that reproduce the
    network's prediction on the training nuclei best, each refitted on the data (none without the prediction)."""
    if kan_pred is None or not modes.has_mode_inputs(data.names):
        return []
    return _read_off("modes", modes.mode_candidates(
        data.names, data.X, data.masks["train"], kan_pred[data.masks["train"]],
        max_constants if max_constants is not None else MAX_JOINT_CONSTANTS, data.w), data, kan_pred, not_converged)


def _read_off(route: str, produced, data: Scoring, kan_pred: np.ndarray, not_converged: list) -> list:
    """The (name, expression, constants, prediction) a route read off the network's prediction, refitted on the data
    and scored, until the search budget runs out."""
    out = []
    for name, expr, init, before in produced:
        if past_deadline():
            break
        cand = _refitted(name, expr, init, data, Origin(data.scores(before), rms(before - kan_pred), None, route),
                         not_converged)
        out += [cand] if cand is not None else []
    return out


# --------------------------------------------------------------------------- expanded (linear-in-coefficients) route

def _swap_improve(active: list[int], n_bases: int, lsq, rounds: int = 5) -> list[int]:
    """Sequential replacement: swap one term in for one term out while the least-squares cost drops."""
    current = sorted(active)
    cost = lsq(current)[1]
    for _ in range(rounds):
        best = (cost, None)
        for out_k in current:
            for in_k in range(n_bases):
                if in_k in current:
                    continue
                trial = sorted([k for k in current if k != out_k] + [in_k])
                c = lsq(trial)[1]
                if c < best[0] * (1 - 1e-9):
                    best = (c, trial)
        if best[1] is None:
            break
        cost, current = best
    return current


def expand_terms(expr: sp.Expr) -> list[sp.Expr]:
    """The basis functions of ``expr`` after full expansion: the terms without their numeric coefficients."""
    full = sp.expand(expr, power_exp=False, log=False)
    bases = []
    for term in sp.Add.make_args(full):
        _, basis = term.as_coeff_Mul()
        if basis not in bases:
            bases.append(basis)
    return bases


def _design(bases, symbols, X) -> np.ndarray:
    cols = tuple(np.asarray(X, dtype=np.float64).T)
    out = []
    for b in bases:
        f = sp.lambdify((symbols,), b, modules="numpy")
        with np.errstate(all="ignore"):
            out.append(np.broadcast_to(np.asarray(f(cols), dtype=np.float64), (len(X),)))
    return np.column_stack(out)


def expanded_candidates(name: str, expr: sp.Expr, data: Scoring, origin: Origin,
                        max_terms: int = 40) -> list[FormulaCandidate]:
    """Expand the network's expression into a sum of basis functions, fit their coefficients by
    linear least squares, remove terms one by one (the one whose removal costs least, followed by
    sequential replacement of terms), and refit every surviving constant (coefficients and shifts
    inside functions) nonlinearly at each size."""
    names, X, y, train = data.names, data.X, data.y, data.masks["train"]
    symbols = variable_symbols(names)
    bases = [b for b in expand_terms(expr)]
    B = _design(bases, symbols, X)
    finite = np.isfinite(B).all(axis=0) & (np.ptp(B[train], axis=0) > 0) | np.array([b == 1 for b in bases])
    bases = [b for b, ok in zip(bases, finite) if ok][:max_terms]
    B = B[:, finite][:, :max_terms]
    col_scale = np.where(np.abs(B[train]).max(axis=0) > 0, np.abs(B[train]).max(axis=0), 1.0)
    Bs = B / col_scale

    def lsq(cols):
        coef, *_ = np.linalg.lstsq(Bs[train][:, cols], y[train], rcond=None)
        return coef, float(np.sum((Bs[train][:, cols] @ coef - y[train]) ** 2))

    active = list(range(len(bases)))
    out = []
    while active:
        active = _swap_improve(active, len(bases), lsq)
        coef, _ = lsq(active)
        lin = sum(sp.Float(c / col_scale[k]) * bases[k] for c, k in zip(coef, active))
        pexpr, init = parameterize(lin)
        try:
            f = refit(pexpr, init, tuple(names), X[train], y[train], max_nfev=500, sample_weight=data.w_train)
            out.append(score_formula(f"{name}-expanded-{len(active)}", f, data, origin.via("expanded", origin.network)))
        except KansymError:
            pass
        if len(active) == 1:
            break
        costs = [(lsq([a for a in active if a != k])[1], k) for k in active]
        active.remove(min(costs)[1])
    return out
