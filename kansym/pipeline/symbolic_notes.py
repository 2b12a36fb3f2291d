"""A run's notes of the symbolic stage checked: each one of the forms the search writes, and the poorly fitted
edges' verdicts (best R^2 per library) recomputed from the member networks."""

from __future__ import annotations

import re

from kansym.errors import KansymError
from kansym.symbolic import search as S
from kansym.nuclear.features import feature_names
from kansym.symbolic.candidates import MAX_JOINT_CONSTANTS, edge_variants, generation_notes
from kansym.symbolic.formula import fit_network, network_formula
from kansym.symbolic.library import resolve_library

_SEARCH_FORMS = tuple(re.compile(p) for p in (
    r"the \d+ members disagree on every structure \(none was produced by two of them\): no formula is chosen",
    re.escape("no extrapolation validation: the data have no isotopic chains (Z and N) to cut"),
    re.escape(S.validation_budget_note(0)).replace("0", r"\d+", 1),
    r"the chosen structure was produced by \d+ of \d+ members: no structure produced by \d+ or more of them "
    r"validates within \d+% of it",
    r"the [\w .()-]+ table does not cover \d+ of the run's nuclei \(Z,N\) [(),\d ]+( \.\.\.)?; the "
    r"far-extrapolation check skips them",
    r"no formula chosen: no structure meets the rule .*",
))
"""The forms of the search's own notes (:mod:`kansym.symbolic.search`, the far check's table coverage)."""

_MEMBER_FORMS = tuple(re.compile(p) for p in (
    r"building candidates ran out of its \d+ s; its candidates are incomplete and can depend on machine speed "
    r"\(raise --search-budget\)",
    r"no candidate \(.+\)",
    r"the search budget \(\d+ s for this member\) ran out; its search is incomplete",
    r"\d+ composition\(s\) have more than \d+ constants and were refitted only after pruning: .+",
    r"\d+ candidate\(s\) left out because their refit did not converge: .+",
    r"the search budget ran out before candidates \S+ and later variants were built",
    r"a composition of \d+ constants: of the other variants only \S+ is built",
))
"""The forms of a member's notes (:func:`kansym.symbolic.search.member_search`, the candidates' generation)."""

_MEMBER = re.compile(r"member seed (\d+): (.+)")
_TOO_LARGE = re.compile(r"(\d+) composition\(s\) have more than (\d+) constants and were refitted only after "
                        r"pruning: (.+)")
_LARGE_NETWORK = re.compile(r"a composition of (\d+) constants: of the other variants only (\S+) is built")
_POOR = re.compile(r"edge \(layer (\d+), input (\d+) -> node (\d+)\) is poorly fitted: .+")


def check_symbolic_notes(notes, cfg, X_train, members, refuse, searched: bool = True, producers=()) -> None:
    """``notes`` (metrics.json's symbolic ones) must each have a form the search writes, once, with this version's
    choice rule among them, and every poorly-fitted-edge note be what the member's network (of ``members``, the
    kept ones) gives on ``X_train``: its libraries' best R^2 and functions, for the libraries the search had built;
    a member said to have no candidate must produce none of candidates.csv's structures (``producers``: the seeds
    it lists). A run without a formula search (``searched`` false: the network only) has no symbolic notes."""
    if not searched:
        if notes:
            refuse("metrics.json has notes of a formula search, but the run holds none (no candidates.csv)")
        return
    if len(set(notes)) != len(notes) or f"choice rule: {S.RULE}" not in notes:
        refuse("metrics.json's notes of the formula search repeat a note or lack the choice rule's")
    producers = set(map(str, producers))
    for note in notes:
        m = _MEMBER.fullmatch(note)
        if m and m.group(2).startswith("no candidate (") and m.group(1) in producers:
            refuse(f"metrics.json says member seed {m.group(1)} gave no candidate, but candidates.csv lists it among "
                   "the members of a structure")
    variants = {v[0] for v in edge_variants(tuple(cfg.libraries), cfg.poor_edges, 1)}  # (names do not depend on depth)
    by_seed = {str(m.seed): m for m in members}
    fits: dict = {}
    _check_complete(notes, cfg, X_train, by_seed, fits, refuse)
    for note in notes:
        if note == f"choice rule: {S.RULE}" or any(f.fullmatch(note) for f in _SEARCH_FORMS):
            continue
        m = _MEMBER.fullmatch(note)
        rest = m.group(2) if m else ""
        if m and m.group(1) in by_seed and _POOR.fullmatch(rest):
            if rest not in _poor_notes(by_seed[m.group(1)], cfg, X_train, tuple(int(g) for g in _POOR.fullmatch(
                    rest).groups()), fits):
                refuse(f"metrics.json's note {note[:90]!r} is not what the member's network gives on the training "
                       "nuclei")
            continue
        if m and m.group(1) in by_seed and (_TOO_LARGE.fullmatch(rest) or _LARGE_NETWORK.fullmatch(rest)):
            if not _sizes_hold(rest, by_seed[m.group(1)], cfg, X_train, fits):
                refuse(f"metrics.json's note {note[:90]!r} does not give the sizes of the compositions the member's "
                       "network gives on the training nuclei")
            continue
        if m and m.group(1) in by_seed and (any(f.fullmatch(rest) for f in _MEMBER_FORMS)
                                            or rest.split(": ")[0] in variants):
            continue
        refuse(f"metrics.json's symbolic note {note[:90]!r} is not one the formula search writes")


def _check_complete(notes, cfg, X_train, by_seed: dict, fits: dict, refuse) -> None:
    """Every edge of a member's network fitted below r2_min by the first library has its note, unless the first
    library's network was never built (the budget ran out before it, or it failed), the member gave no candidate (its
    notes are lost) or the search stops at poorly fitted edges (``poor_edges`` error)."""
    if cfg.poor_edges == "error":
        return
    said: dict = {}
    for note in notes:
        m = _MEMBER.fullmatch(note)
        if m:
            said.setdefault(m.group(1), []).append(m.group(2))
    first = cfg.libraries[0]
    cut_short = (f"the search budget ran out before candidates {first} and later variants were built",)
    for seed, member in by_seed.items():
        own = said.get(seed, [])
        if any(n in cut_short or n.startswith(("no candidate (", f"{first}: ")) for n in own):
            continue  # the first library's network was not built (the budget, an error) or its notes were lost
        listed = {tuple(int(g) for g in _POOR.fullmatch(n).groups()) for n in own if _POOR.fullmatch(n)}
        missing = [e for e, libs in _member_fits(member, cfg, X_train, fits).items()
                   if cfg.libraries[0] in libs and e not in listed]
        if missing:
            refuse(f"metrics.json's notes do not say that edge {missing[0]} of member seed {seed} is poorly fitted, "
                   "as its network gives on the training nuclei")


def _member_fits(member, cfg, X_train, fits: dict) -> dict:
    """{edge (layer, input, node): {library: (best R^2, its function)}} of ``member``'s network's edges fitted below
    r2_min by each library (kept in ``fits`` by the member's seed)."""
    if member.seed not in fits:
        cache, poor = fits.setdefault(("cache", member.seed), {}), {}
        snap = member.snapshot(cfg.symbolic_from)
        for lib in cfg.libraries:
            try:
                net = fit_network(snap, X_train, resolve_library(lib), r2_min=cfg.r2_min,
                                  on_poor="best" if cfg.poor_edges == "error" else cfg.poor_edges, cache=cache)
            except KansymError:
                continue
            for e in net.edges:
                if e.alternatives and e.alternatives[0].r2 < cfg.r2_min:
                    poor.setdefault((e.layer, e.i, e.j), {})[lib] = (e.alternatives[0].r2, e.alternatives[0].name)
        fits[member.seed] = poor
    return fits[member.seed]


def _poor_notes(member, cfg, X_train, edge: tuple, fits: dict) -> set[str]:
    """The texts a poorly fitted ``edge`` of ``member``'s network can have: its best fit per library for each
    prefix of the libraries (the search may have stopped before the later ones), the libraries where it is
    fitted below r2_min."""
    best = _member_fits(member, cfg, X_train, fits).get(edge, {})
    out = set()
    for k in range(1, len(cfg.libraries) + 1):
        listed = {lib: best[lib] for lib in cfg.libraries[:k] if lib in best}
        if listed:
            out |= set(generation_notes({edge: listed}, cfg.poor_edges, cfg.r2_min, [], 0, []))
    return out


def _sizes_hold(note: str, member, cfg, X_train, fits: dict) -> bool:
    """A note on compositions too large to refit jointly names variants whose networks have the constants it
    says (recomputed: each variant's edge fits and its composition's constants), more than the search's limit."""
    limit = min(MAX_JOINT_CONSTANTS, cfg.max_constants + S.REDUCE_SLACK)
    m = _LARGE_NETWORK.fullmatch(note)
    if m:
        first = cfg.libraries[0]
        return m.group(2) == f"{first}-linear-out" and int(m.group(1)) > MAX_JOINT_CONSTANTS \
            and _sizes(member, cfg, X_train, fits).get(first) == int(m.group(1))
    m = _TOO_LARGE.fullmatch(note)
    items = [re.fullmatch(r"(\S+) \((\d+)\)", part) for part in m.group(3).split("; ")]
    if int(m.group(2)) != limit or int(m.group(1)) != len(items) or not all(items):
        return False
    sizes = _sizes(member, cfg, X_train, fits)
    return len({i.group(1) for i in items}) == len(items) and all(
        int(i.group(2)) > limit and sizes.get(i.group(1)) == int(i.group(2)) for i in items)


def _sizes(member, cfg, X_train, fits: dict) -> dict:
    """{variant name: constants of its composition} of ``member``'s network, for the variants whose edges fit (the
    edge fits shared with :func:`_member_fits` through ``fits``)."""
    return {name: len(network_formula(net, feature_names(cfg.features))[1])
            for name, net in variant_networks(member, cfg, X_train, fits.setdefault(("cache", member.seed), {}))}


def variant_networks(member, cfg, X_train, cache: dict):
    """(variant name, symbolic network) of each variant of the edge fits the search builds from ``member``'s network
    (the snapshot config.json names) whose edges fit, in the search's order; ``cache`` keeps the edge fits."""
    snap = member.snapshot(cfg.symbolic_from)
    last = snap.model_.depth - 1 if hasattr(snap, "model_") else 1  # as the search numbers the layers
    for name, lib, linear, poor in edge_variants(tuple(cfg.libraries), cfg.poor_edges, last):
        try:
            yield name, fit_network(snap, X_train, resolve_library(lib), r2_min=cfg.r2_min, on_poor=poor,
                                    linear_layers=linear, cache=cache)
        except KansymError:
            continue
