"""A formula in a nuclear physicist's notation, for LaTeX: liquid-drop terms in the textbook order and with the
textbook signs, A for N + Z, network constants numbered from 1, each term's coefficient first.

The display is a relabelling only: the value of every term is unchanged. A constant whose term is conventionally
subtracted from a binding energy B (surface, Coulomb, symmetry, Wigner) is shown as ``- a_S A^(2/3)`` with
a_S = -(fitted value), so that a physical fit shows positive constants; a fit that gives the unconventional sign
shows a negative one. Signs are conventional only for B; other targets keep the fitted signs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp

from kansym.symbolic.formula import Formula

LIQUID_DROP_ORDER = ("a_V", "a_S", "a_C", "a_I", "a_SI", "a_P", "a_W")
"""Volume, surface, Coulomb, symmetry, surface symmetry, pairing, Wigner: the order of the terms shown."""

TEXTBOOK_SIGN = {"a_V": 1, "a_S": -1, "a_C": -1, "a_I": -1, "a_SI": 1, "a_P": 1, "a_W": -1}
"""The sign of each liquid-drop term in B = a_V A - a_S A^(2/3) - a_C Z(Z-1)/A^(1/3) - a_I (N-Z)^2/A + ..."""

DEFINITIONS = (
    (("A",), "$A = N + Z$"),
    (("v_Z", "v_N"), "$v_Z$, $v_N$ the distances of $Z$, $N$ to the nearest magic number"),
    (("mu_Z", "mu_N", "s_Z", "s_N", "t_Z", "t_N"),
     "$Z_1 \\le Z < Z_2$ the magic numbers enclosing $Z$ ($Z_1 = 0$ below 8, $Z_2 = 184$ above 126; "
     "likewise $N_1$, $N_2$, with $N_2 = 258$ above 184)"),
    (("mu_Z", "mu_N"), "$\\mu_Z = (Z - Z_1)/(Z_2 - Z_1)$, $\\mu_N$ likewise, the fillings of the proton and "
                       "neutron shells"),
    (("s_Z", "s_N"), "$s_Z = (Z - Z_1)(Z_2 - Z)/(Z_2 - Z_1)$, $s_N$ likewise, the shell occupancies (valence "
                     "particles times holes over the shell's size)"),
    (("t_Z", "t_N"), "$t_Z = s_Z (2\\mu_Z - 1)$, $t_N$ likewise, the particle-hole asymmetric (three-body) "
                     "occupancies"),
    (("Z_shell", "N_shell"), "$Z_{shell}$, $N_{shell}$ the numbers of magic numbers $\\le Z$, $\\le N$"),
    (("P_NZ",), "$P_{NZ} = v_Z v_N/(v_Z + v_N)$ (0 where both are magic), Casten's valence factor"),
    (("P",), "$P = \\Delta (1 + 12/\\sqrt{A})$ with $\\Delta = [(-1)^Z + (-1)^N]/2$"),
    (("S",), "$S = v_Z v_N$"),
    (("Z_EO", "N_EO"), "$Z_{EO}$, $N_{EO}$ the even-odd indicators of $Z$ and $N$"),
    (("delta",), "$\\delta = [(-1)^Z + (-1)^N]/2$"),
)
"""A caption's definition of the input symbols a formula may hold."""


@dataclass(frozen=True)
class Display:
    """A formula as shown: its terms in order, each constant's shown name and sign (shown value = sign x fitted
    value), the constants in the order shown, and the caption definitions of the symbols the terms use."""

    terms: tuple[sp.Expr, ...]
    names: dict  # fitted name -> shown name
    signs: dict  # fitted name -> +1 or -1
    order: tuple[str, ...]  # fitted names in the order their terms are shown
    defined: tuple[str, ...]

    @property
    def leading(self) -> frozenset:
        """Shown names of the constants, printed first in their terms."""
        return frozenset(self.names.values())


def _rank(term: sp.Expr) -> tuple:
    """Order of notation 1: liquid-drop constants, then w_k, then c_k terms."""
    names = {s.name for s in term.free_symbols}
    for k, n in enumerate(LIQUID_DROP_ORDER):
        if n in names:
            return (0, k)
    if any(re.fullmatch(r"w_\w+", n) for n in names):
        return (1, 0)
    return (2, 0) if any(re.fullmatch(r"c_\d+", n) for n in names) else (3, 0)


_FAMILY = {"a_V": 0, "a_S": 1, "a_C": 2, "a_I": 3, "a_SI": 3, "a_P": 4, "a_W": 5}
"""Volume, surface (and curvature), Coulomb, symmetry, pairing, Wigner: the families of notation 2."""


def _rank_by_family(term: sp.Expr) -> tuple:
    """Order of notation 2: each term in its liquid-drop family (volume, surface, Coulomb, symmetry, pairing,
    Wigner), a power law in A, N - Z and Z by its shape (c N and c Z with the volume, c A^p with the surface, c Z^2
    A^p with Coulomb, c (N - Z)^2 A^p with symmetry, c |N - Z| A^p with Wigner; within a family the higher power of
    A first); then w_k terms and the other network terms."""
    names = {s.name for s in term.free_symbols}
    for k, n in enumerate(LIQUID_DROP_ORDER):
        if n in names:
            return (_FAMILY[n], 0, k)
    inputs = names - {n for n in names if re.fullmatch(r"[acw]_\w+", n)}
    if names & {n for n in names if re.fullmatch(r"c_\d+", n)} and inputs and inputs <= {"Z", "N", "A"}:
        A = next((s for s in term.free_symbols if s.name == "A"), None)
        power = float(term.as_powers_dict().get(A, 0)) if A is not None else 0.0
        if term.has(sp.Abs):
            family = 5
        elif any(isinstance(f, sp.Pow) and f.exp == 2 and f.base.free_symbols and
                 {x.name for x in f.base.free_symbols} == {"N", "Z"} for f in sp.Mul.make_args(term)):
            family = 3
        elif any(isinstance(f, sp.Pow) and f.exp == 2 and f.base.is_Symbol and f.base.name == "Z"
                 for f in sp.Mul.make_args(term)):
            family = 2
        elif A is None and _linear_in(term, [s for s in term.free_symbols if s.name in ("Z", "N")]):
            family, power = 0, 1.0
        elif inputs == {"A"}:
            family = 1 if power < 1 else 0
        else:
            return (7, 0, 0)
        return (family, 1, -power)
    if any(re.fullmatch(r"w_\w+", n) for n in names):
        return (6, 0, 0)
    return (7, 0, 0) if any(re.fullmatch(r"c_\d+", n) for n in names) else (8, 0, 0)


def _linear_in(term: sp.Expr, variables) -> bool:
    """Whether ``term`` is a constant times one of ``variables`` (c N, c Z)."""
    return term.is_polynomial(*variables) and sp.Poly(term, *variables).total_degree() == 1 and \
        len(sp.Add.make_args(sp.expand(term))) == 1


def display(formula: Formula, binding_energy: bool = True, by_family: bool = True) -> Display:
    """The physicist's form of ``formula`` (``binding_energy``: the target is B, so textbook signs apply); terms in
    notation 2's order (``by_family``, :func:`_rank_by_family`) or notation 1's."""
    syms = {s.name: s for s in formula.expr.free_symbols}
    constants = [p.name for p in formula.parameters]
    signs = {n: (TEXTBOOK_SIGN.get(n, 1) if binding_energy else 1) for n in constants}
    shown = formula.expr.xreplace({syms[n]: -syms[n] for n in constants if signs[n] == -1 and n in syms})
    if "N" in syms and "Z" in syms:
        A = sp.Symbol("A", positive=True)
        abbreviated = shown.subs(syms["N"] + syms["Z"], A)
        if A in abbreviated.free_symbols:
            shown = abbreviated
    rank = _rank_by_family if by_family else _rank
    terms = sorted(sp.Add.make_args(shown), key=lambda t: (rank(t), sp.default_sort_key(t)))
    order = []
    for t in terms:
        text = str(t)
        for s in sorted((s for s in t.free_symbols if s.name in constants),
                        key=lambda s: re.search(rf"\b{s.name}\b", text).start()):
            if s.name not in order:
                order.append(s.name)
    order += [n for n in constants if n not in order]
    network = [n for n in order if re.fullmatch(r"c_\d+", n)]
    names = {n: n for n in constants} | {n: f"c_{k + 1}" for k, n in enumerate(network)}
    if any(names[n] != n for n in network):  # through placeholders: c_2 -> c_1 while c_1 -> c_2 must not collide
        tmp = {syms[n]: sp.Dummy(n) for n in network}
        final = {tmp[syms[n]]: sp.Symbol(names[n], real=True) for n in network}
        terms = [t.xreplace(tmp).xreplace(final) for t in terms]
    used = {s.name for t in terms for s in t.free_symbols}
    defined = tuple(text for group, text in DEFINITIONS if used & set(group))
    return Display(tuple(terms), names, signs, tuple(order), defined)
