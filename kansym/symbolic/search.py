"""The formula choice: candidates pooled over an ensemble of networks, grouped by structure, made determined,
validated on held-out nuclei and chosen by one stated rule.

A *structure* is a candidate's expression up to the names and values of its constants (``structure_key``).
Every member network of the ensemble gives candidates (``kansym.symbolic.candidates``); a candidate with a constant
that the data do not determine is reduced (``determine``): its least significant constant (|value| / standard
error smallest, or the weaker of a pair with |correlation| > ``MAX_CORRELATION``) is fixed at zero, which
removes a term or a shift, and the rest is refitted, until every constant is determined (a candidate with more than
max_constants constants only while it fits the training nuclei within ``NEAR_TIE`` of the member's best determined
candidate: every reduction fits worse than its parent, ``worth_reducing``). Equal structures from
different members are one structure (represented by its best refit on the training nuclei) and are validated
twice on the training nuclei only: ``CV_FOLDS``-fold cross-validation (refitted per fold) and an extrapolation
validation (the ``EDGE_PER_CHAIN`` most neutron-rich training nuclei of every isotopic chain held out, the rest
refitted). Reference mass tables never enter the choice except through the far-extrapolation check's sanity
limits and the departure from the refitted liquid drop (``kansym.checks.farcheck``). The rule is :data:`RULE`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np
import sympy as sp

from kansym.symbolic.candidates import FormulaCandidate, Origin, Scoring, refit_budget, score_formula
from kansym.errors import KansymError
from kansym.nuclear.targets import TARGET_KINDS
from kansym.symbolic.formula import Formula, deadline_at, past_deadline, refit

SIGNIFICANCE = 3.0  # every chosen constant has |value| >= SIGNIFICANCE standard errors (covariance and bootstrap)
MAX_CORRELATION = 0.995  # no pair of chosen constants correlates more strongly
CV_FOLDS = 5
EDGE_PER_CHAIN = 2  # most neutron-rich training nuclei of each isotopic chain held out for extrapolation validation
EDGE_MIN_CHAIN = 6  # chains with fewer training nuclei are not cut
NEAR_TIE = 0.05  # structures whose validation score is within 5 % of the best are tied
BOOTSTRAP = 40  # resamples of the training nuclei for the chosen constants' bootstrap spread
SKIP_ABOVE = 1.3  # a structure whose training RMSE exceeds 1.3 x the best validation score is not validated
GENERATE_SHARE = 0.6  # of a member's search budget for building its candidates; the rest reduces them
REDUCE_SLACK = 6  # candidates with up to max_constants + REDUCE_SLACK constants are reduced

RULE = (
    "A structure is eligible when it passes the far-extrapolation check, has at most max_constants constants, "
    f"every constant at |value| >= {SIGNIFICANCE:g} standard errors (covariance and bootstrap), no pair of "
    f"constants with |correlation| > {MAX_CORRELATION}, and an RMS departure beyond AME2020 (from the refitted liquid "
    "drop; for a residual target the correction itself) within the target's bound. Its validation score is the "
    "quadratic mean of its "
    f"{CV_FOLDS}-fold cross-validation RMSE and its extrapolation-validation RMSE (the {EDGE_PER_CHAIN} most "
    "neutron-rich training nuclei of every isotopic chain held out), both on the training nuclei only. Among the "
    f"eligible structures within {NEAR_TIE:.0%} of the best score, those produced by at least half of the members "
    "come first; among them the one that departs least from the liquid drop beyond AME2020 is chosen (it claims "
    "the least structure the data do not show), then the one with fewer constants, then the one more members "
    "produced. When the members share no structure at all, no formula is chosen.")


@dataclass(frozen=True)
class SearchBudget:
    """Limits of the formula search: ``seconds`` of wall time for the whole search (candidates of every member,
    reductions, validations) and, per refit, :func:`kansym.symbolic.candidates.refit_budget` function evaluations."""

    seconds: float = 90.0

    def __post_init__(self):
        if not (isinstance(self.seconds, (int, float)) and math.isfinite(self.seconds) and 0 < self.seconds <= 86400):
            raise KansymError(f"--search-budget {self.seconds!r} must be a number of seconds in (0, 86400]")


def structure_key(formula: Formula) -> str:
    """The expression with every constant replaced by one placeholder: equal for two formulas that differ only
    in the names, order and values of their constants."""
    placeholder = sp.Symbol("_C", real=True)
    return sp.srepr(formula.expr.xreplace({s: placeholder for s in formula.param_symbols}))


def significance(formula: Formula) -> np.ndarray:
    """|value| / standard error of every constant (0 where the error is undetermined)."""
    return np.array([abs(p.value) / p.stderr if p.stderr else (np.inf if p.stderr == 0 and p.value else 0.0)
                     for p in formula.parameters], dtype=float)


def undetermined(formula: Formula, stderr: dict | None = None) -> list[str]:
    """Why the constants are not determined (empty when they are): constants below ``SIGNIFICANCE`` standard
    errors (``stderr``: other errors, e.g. bootstrap, to use where larger) and pairs above ``MAX_CORRELATION``."""
    out = []
    t = significance(formula)
    for k, p in enumerate(formula.parameters):
        if p.stderr is None:
            out.append(f"{p.name} undetermined")
        elif t[k] < SIGNIFICANCE:
            out.append(f"{p.name} = {p.value:.4g} +- {p.stderr:.2g}")
        elif stderr and stderr.get(p.name) and abs(p.value) < SIGNIFICANCE * stderr[p.name]:
            out.append(f"{p.name} = {p.value:.4g} +- {stderr[p.name]:.2g} (bootstrap)")
    out += [f"|corr({formula.parameters[i].name}, {formula.parameters[j].name})| = {abs(c):.4f}"
            for i, j, c in formula.degenerate_pairs(MAX_CORRELATION)]
    return out


def _least_determined(formula: Formula) -> sp.Symbol | None:
    """The constant to fix at zero next: the least significant among those below ``SIGNIFICANCE`` or in a pair
    above ``MAX_CORRELATION`` (None when every constant is determined)."""
    t = significance(formula)
    weak = {k for k in range(len(t)) if t[k] < SIGNIFICANCE}
    weak |= {i if t[i] <= t[j] else j for i, j, _ in formula.degenerate_pairs(MAX_CORRELATION)}
    if not weak:
        return None
    k = min(weak, key=lambda k: (t[k], k))
    return formula.param_symbols[k]


def _without(expr: sp.Expr, p: sp.Symbol) -> sp.Expr | None:
    """``expr`` with constant ``p`` fixed at zero (a coefficient removes its term, a shift leaves its function
    unshifted); if that is not finite, the top-level terms holding ``p`` are removed instead."""
    out = expr.xreplace({p: sp.Integer(0)})
    if out.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        out = sp.Add(*[t for t in sp.Add.make_args(expr) if p not in t.free_symbols])
    return out


def determine(cand: FormulaCandidate, data: Scoring, max_steps: int = 12, seen: set | None = None,
              max_constants: int | None = None) -> list[FormulaCandidate]:
    """Reductions of ``cand`` until every constant is determined and there are at most ``max_constants``: each
    step fixes the least determined (or, once all are determined, the least significant) constant at zero and
    refits the rest (one candidate per step; route 'reduced'). A step that reaches a structure in ``seen``
    (updated) ends the chain: the rest of it was already searched."""
    out, current = [], cand
    seen = set() if seen is None else seen
    for step in range(1, max_steps + 1):
        if past_deadline():
            break
        f = current.formula
        p = _least_determined(f)
        if p is None and max_constants is not None and f.n_constants > max_constants:
            p = f.param_symbols[int(np.argmin(significance(f)))]
        if p is None:
            break
        expr = _without(f.expr, p)
        init = {s: q.value for s, q in zip(f.param_symbols, f.parameters) if s in expr.free_symbols}
        if not init:
            break
        try:
            g = refit(expr, init, f.variables, data.X_train, data.y_train, max_nfev=refit_budget(len(init)),
                      accept_budget_end=True, sample_weight=data.w_train)
            current = score_formula(f"{cand.name}-det{step}", g, data, Origin.of(cand).via("reduced"))
        except KansymError:
            break
        key = structure_key(current.formula)
        if key in seen:
            break
        seen.add(key)
        out.append(current)
    return out


# --------------------------------------------------------------------------- validation on the training nuclei

def fold_indices(train_idx: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    """``k`` disjoint folds of the training rows (a seeded permutation), each sorted."""
    perm = np.random.default_rng(seed).permutation(np.asarray(train_idx))
    return [np.sort(f) for f in np.array_split(perm, k)]


def edge_mask(frame, train: np.ndarray) -> np.ndarray | None:
    """Rows held out for the extrapolation validation: the ``EDGE_PER_CHAIN`` most neutron-rich training nuclei
    of each isotopic chain with at least ``EDGE_MIN_CHAIN`` training nuclei (None without Z and N columns)."""
    if not {"Z", "N"} <= set(frame.columns):
        return None
    z, n = frame["Z"].to_numpy(), frame["N"].to_numpy()
    out = np.zeros(len(frame), dtype=bool)
    for zz in np.unique(z[train]):
        rows = np.flatnonzero(train & (z == zz))
        if len(rows) >= EDGE_MIN_CHAIN:
            out[rows[np.argsort(n[rows], kind="stable")[-EDGE_PER_CHAIN:]]] = True
    return out if out.any() else None


def refit_on(formula: Formula, X, y, rows, w=None) -> Formula:
    init = dict(zip(formula.param_symbols, formula.values()))
    return refit(formula.expr, init, formula.variables, X[rows], y[rows], max_nfev=refit_budget(len(init)),
                 accept_budget_end=True, sample_weight=None if w is None else w[rows])


def cross_validate(formula: Formula, X, y, folds: list[np.ndarray], w=None) -> tuple[float, float]:
    """(pooled RMSE over the held-out folds, standard deviation of the per-fold RMSEs) [units of y]; each fold's
    refit (weighted by ``w`` when given; the RMSE is not) starts from the formula's constants. NaN when a refit
    fails."""
    every = np.concatenate(folds)
    sq, per = [], []
    for f in folds:
        rest = np.setdiff1d(every, f)
        try:
            g = refit_on(formula, X, y, rest, w)
        except KansymError:
            return float("nan"), float("nan")
        r = g.evaluate(X[f]) - y[f]
        if not np.isfinite(r).all():
            return float("nan"), float("nan")
        sq.append(r ** 2)
        per.append(float(np.sqrt(np.mean(r ** 2))))
    return float(np.sqrt(np.mean(np.concatenate(sq)))), float(np.std(per))


def edge_validate(formula: Formula, X, y, train: np.ndarray, edge: np.ndarray | None, w=None) -> float:
    """RMSE on the held-out neutron-rich edge of the training nuclei after a refit on the rest (weighted by
    ``w`` when given) (NaN without one)."""
    if edge is None:
        return float("nan")
    try:
        g = refit_on(formula, X, y, np.flatnonzero(train & ~edge), w)
    except KansymError:
        return float("nan")
    r = g.evaluate(X[edge]) - y[edge]
    return float(np.sqrt(np.mean(r ** 2))) if np.isfinite(r).all() else float("nan")


def bootstrap_stderr(formula: Formula, X, y, train: np.ndarray, seed: int, n: int = BOOTSTRAP,
                     w=None) -> dict[str, float]:
    """Standard deviation of each constant over ``n`` refits on resampled training nuclei (seeded; weighted by
    ``w`` when given) [units of the constant]; NaN for a constant when fewer than half of the refits succeed."""
    rng = np.random.default_rng(seed)
    rows = np.flatnonzero(train)
    vals = []
    for _ in range(n):
        if past_deadline():
            break
        pick = rng.choice(rows, size=len(rows), replace=True)
        try:
            vals.append(refit_on(formula, X, y, pick, w).values())
        except KansymError:
            continue
    if len(vals) < max(n // 2, 2):
        return {p.name: float("nan") for p in formula.parameters}
    sd = np.std(np.array(vals), axis=0, ddof=1)
    return {p.name: float(s) for p, s in zip(formula.parameters, sd)}


# --------------------------------------------------------------------------- structures and the choice

@dataclass(frozen=True)
class Structure:
    """One formula structure over the ensemble: its representative candidate (best training RMSE among the
    members' fits), the seeds of the members that produced it, why it is not eligible (empty if it is), and
    its validation on the training nuclei [MeV]."""

    key: str
    candidate: FormulaCandidate
    members: tuple[int, ...]
    failures: tuple[str, ...] = ()
    cv_rmse: float = float("nan")
    cv_spread: float = float("nan")
    edge_rmse: float = float("nan")
    bootstrap: dict | None = None  # constant -> bootstrap standard deviation (the chosen structure)

    @property
    def eligible(self) -> bool:
        return not self.failures

    @property
    def n_constants(self) -> int:
        return self.candidate.n_constants

    @property
    def score(self) -> float:
        """Validation score [MeV]: quadratic mean of the CV and extrapolation-validation RMSE (CV alone when there
        is no extrapolation set)."""
        if not np.isfinite(self.edge_rmse):
            return self.cv_rmse
        return float(np.sqrt((self.cv_rmse ** 2 + self.edge_rmse ** 2) / 2))


def pool(member_candidates: list[tuple[int, list[FormulaCandidate]]]) -> list[Structure]:
    """Group every member's candidates by structure, in order of first appearance."""
    groups: dict[str, list[tuple[int, FormulaCandidate]]] = {}
    for seed, cands in member_candidates:
        for c in cands:
            groups.setdefault(structure_key(c.formula), []).append((seed, c))
    out = []
    for key, items in groups.items():
        rep = min(items, key=lambda sc: (sc[1].rmse["train"] if np.isfinite(sc[1].rmse["train"]) else np.inf))[1]
        out.append(Structure(key, rep, tuple(sorted({s for s, _ in items}))))
    return out


def screen(s: Structure, max_constants: int, departure_max: float) -> Structure:
    """The structure with the failures that need no validation: far check, size, determination, departure."""
    c = s.candidate
    return replace(s, failures=screen_failures(c.formula, c.sane, c.far_departure, max_constants, departure_max))


def screen_failures(formula, sane: bool, departure: float, max_constants: int, departure_max: float) -> tuple:
    """Why a formula is not eligible before any validation (empty if it may be validated): no constant, the far
    check failed (``sane``), more than ``max_constants`` constants, constants the data do not determine, or an RMS
    ``departure`` [MeV] beyond AME2020 above ``departure_max``."""
    why = []
    if formula.n_constants == 0:
        why.append("no constant: the baseline or model alone, not a formula")
    if not sane:
        why.append("fails the far-extrapolation check")
    if formula.n_constants > max_constants:
        why.append(f"{formula.n_constants} constants > {max_constants}")
    bad = undetermined(formula)
    if bad:
        why.append("constants not determined: " + ", ".join(bad[:4]) + (" ..." if len(bad) > 4 else ""))
    if np.isfinite(departure) and departure > departure_max:
        why.append(f"departure beyond AME2020 {departure:.3g} MeV > {departure_max:g}")
    return tuple(why)


NOT_VALIDATED_BUDGET = "not validated: the search budget ran out"


def validation_budget_note(skipped: int) -> str:
    """The note of a search whose budget ran out with ``skipped`` structures not validated."""
    return (f"the search budget ran out during the validation: {skipped} eligible structure(s) were not validated, "
            "so the choice can depend on machine speed (raise --search-budget)")
NOT_VALIDATED_SKIPPED = (f"not validated: its training RMSE exceeds the best validation score by more than "
                         f"{SKIP_ABOVE - 1:.0%}")
VALIDATION_FAILED = "a validation refit failed or is not finite"
BOOTSTRAP_FAILED = "bootstrap refits failed"


def validate(s: Structure, X, y, folds, train, edge, w=None) -> Structure:
    cv, spread = cross_validate(s.candidate.formula, X, y, folds, w)
    e = edge_validate(s.candidate.formula, X, y, train, edge, w)
    out = replace(s, cv_rmse=cv, cv_spread=spread, edge_rmse=e)
    if not np.isfinite(cv) or (edge is not None and not np.isfinite(e)):
        out = replace(out, failures=out.failures + (VALIDATION_FAILED,))
    return out


def pick(structures: list[Structure], min_members: int = 1) -> Structure | None:
    """The structure :data:`RULE` chooses among the eligible ones (None if none is eligible); ``min_members``:
    the members a structure needs to count as recurrent."""
    ok = [s for s in structures if s.eligible and np.isfinite(s.score)]
    if not ok:
        return None
    best = min(s.score for s in ok)
    near = [s for s in ok if s.score <= best * (1 + NEAR_TIE)]

    def departure(s):  # NaN without a far check (arrays that are not nuclei): no preference
        d = s.candidate.far_departure
        return d if np.isfinite(d) else np.inf
    return min(near, key=lambda s: (len(s.members) < min_members, departure(s), s.n_constants, -len(s.members),
                                    s.score, s.key))


def _validate_in_order(structures: list[Structure], todo, X, y, folds, train, edge, w) -> None:
    """Validate ``structures[k]`` for k in ``todo`` (in place), best training RMSE first, until the deadline of the
    enclosing :func:`deadline_at`: one whose training RMSE exceeds the best score so far by more than
    ``SKIP_ABOVE`` is skipped, and one the deadline reaches (before or during its refits) is not validated."""
    best = np.inf
    for k in sorted(todo, key=lambda k: structures[k].candidate.rmse["train"]):
        if past_deadline():
            structures[k] = replace(structures[k], failures=(NOT_VALIDATED_BUDGET,))
            continue
        if structures[k].candidate.rmse["train"] > SKIP_ABOVE * best:
            structures[k] = replace(structures[k], failures=(NOT_VALIDATED_SKIPPED,))
            continue
        before = structures[k]
        structures[k] = validate(before, X, y, folds, train, edge, w)
        if VALIDATION_FAILED in structures[k].failures and past_deadline():  # a refit cut short by the deadline
            structures[k] = replace(before, failures=(NOT_VALIDATED_BUDGET,))
            continue
        if structures[k].eligible and np.isfinite(structures[k].score):
            best = min(best, structures[k].score)


def choose_structure(member_candidates, X, y, masks, frame, seed: int, max_constants: int, target: str,
                     n_members: int, folds: int = CV_FOLDS, progress=None, deadline: float | None = None,
                     w=None) -> tuple[list[Structure], Structure | None, list[str]]:
    """Pool, screen, validate and choose (``RULE``, refits weighted by ``w``); returns (structures, chosen, notes)."""
    notes = []
    structures = pool(member_candidates)
    min_members = max(1, math.ceil(n_members / 2))
    dep = TARGET_KINDS[target].departure_max if target in TARGET_KINDS else TARGET_KINDS["be"].departure_max
    structures = [screen(s, max_constants, dep) for s in structures]
    if n_members > 1 and all(len(s.members) < 2 for s in structures):
        notes.append(f"the {n_members} members disagree on every structure (none was produced by two of them): no "
                     "formula is chosen")
        return structures, None, notes
    train = masks["train"]
    folds = fold_indices(np.flatnonzero(train), folds, seed)
    edge = edge_mask(frame, train)
    if edge is None:
        notes.append("no extrapolation validation: the data have no isotopic chains (Z and N) to cut")
    todo = [k for k, s in enumerate(structures) if s.eligible]
    if progress:
        progress(f"formula search: validating {len(todo)} of {len(structures)} structures")
    chosen = None
    with deadline_at(deadline):
        _validate_in_order(structures, todo, X, y, folds, train, edge, w)
    skipped = sum(1 for s in structures if s.failures == (NOT_VALIDATED_BUDGET,))
    if skipped:
        notes.append(validation_budget_note(skipped))
    # the bootstrap of the chosen structure runs to its fixed count, outside the search deadline, so that its
    # spreads do not depend on machine speed (each structure is bootstrapped at most once)
    while True:
        chosen = pick(structures, min_members)
        if chosen is None:
            break
        k = structures.index(chosen)
        boot = bootstrap_stderr(chosen.candidate.formula, X, y, train, seed, w=w)
        bad = [b for b in undetermined(chosen.candidate.formula, boot) if "bootstrap" in b]
        nan = [n for n, v in boot.items() if not np.isfinite(v)]
        structures[k] = chosen = replace(chosen, bootstrap=boot)
        if not bad and not nan:
            break
        why = ("constants not determined: " + ", ".join(bad)) if bad else BOOTSTRAP_FAILED
        structures[k] = replace(chosen, failures=(why,))
        chosen = None
    if chosen is not None and len(chosen.members) < min_members:
        notes.append(f"the chosen structure was produced by {len(chosen.members)} of {n_members} members: no structure "
                     f"produced by {min_members} or more of them validates within {NEAR_TIE:.0%} of it")
    return structures, chosen, notes


def worth_reducing(cands, max_constants: int) -> float:
    """The training RMSE below which a candidate with more than ``max_constants`` constants is reduced:
    (1 + ``NEAR_TIE``) x the best training RMSE of a candidate already within ``max_constants`` with every constant
    determined (inf without one). Each reduction fixes a constant and fits the training nuclei no better than its
    parent, so a larger candidate that already fits worse than that is not reduced."""
    best = [c.rmse["train"] for c in cands if c.n_constants <= max_constants and c.far_departure != np.inf
            and not undetermined(c.formula)]
    return (1 + NEAR_TIE) * min(best) if best else np.inf


def member_search(generate_one, member, data: Scoring, max_constants: int, seconds: float):
    """Candidates of one member network (``generate_one(member) -> (candidates, notes)``) and the reductions of
    those with undetermined constants, within ``seconds``; returns (seed, candidates, notes)."""
    notes = []
    t0 = time.monotonic()
    with deadline_at(t0 + seconds):
        try:
            with deadline_at(t0 + GENERATE_SHARE * seconds):  # the rest is kept for the reductions
                cands, member_notes = generate_one(member)
                if past_deadline():
                    notes.append(f"member seed {member.seed}: building candidates ran out of its "
                                 f"{GENERATE_SHARE * seconds:.0f} s; its candidates are incomplete and can depend on "
                                 "machine speed (raise --search-budget)")
        except KansymError as exc:
            return member.seed, [], [f"member seed {member.seed}: no candidate ({exc})"]
        reduced, seen = [], {structure_key(c.formula) for c in cands}
        fit = worth_reducing(cands, max_constants)
        for c in sorted(cands, key=lambda c: (c.n_constants, c.rmse["train"])):
            if c.n_constants > max_constants + REDUCE_SLACK or c.far_departure == np.inf or \
                    (c.n_constants <= max_constants and not undetermined(c.formula)) or \
                    (c.n_constants > max_constants and c.rmse["train"] > fit):
                continue
            reduced += determine(c, data, seen=seen, max_constants=max_constants)
        if past_deadline():
            notes.append(f"member seed {member.seed}: the search budget ({seconds:.0f} s for this member) ran out; "
                         "its search is incomplete")
    return member.seed, list(cands) + reduced, notes + [f"member seed {member.seed}: {n}" for n in member_notes]
