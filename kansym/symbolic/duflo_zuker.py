"""The Duflo-Zuker 10-parameter mass formula (J. Duflo and A. P. Zuker, the "mass10" routine of 1996), the
horizon kansym's formulas are measured against: binding energies [MeV] from the published constants, and the same
ten terms refitted on other nuclei.

B(N, Z) = sum_k b_k T_k(N, Z) is linear in its constants b_1..b_10: Coulomb, the master (harmonic-oscillator
monopole) term with spin-orbit, its surface part, the isospin volume and surface (with the "Wigner" term) parts, the
spherical three-body volume and surface terms, the spherical and the deformed quadrupole terms, and pairing. Each
nucleus is evaluated as spherical and as deformed (4 nucleons moved to the next subshell); the deformed value is
taken for Z > 50 where it binds more. The published routine computes in single precision; these terms are float64,
so they agree with the bundled ``dz10`` table to its printed precision.
"""

from __future__ import annotations

import math

import numpy as np

from kansym.errors import KansymError

PUBLISHED = (0.7043, 17.7418, 16.2562, 37.5562, 53.9017, 0.4711, 2.1307, 0.0210, 40.5356, 6.0632)
"""The published constants b_1..b_10 [MeV]."""

NAMES = ("b_C", "b_M", "b_MS", "b_T", "b_TS", "b_S3", "b_S3S", "b_Qs", "b_Qd", "b_P")
"""Names of the ten constants: Coulomb, master, master surface, isospin, isospin surface, three-body, three-body
surface, spherical quadrupole, deformed quadrupole, pairing."""


def _shells(n: int, ju: int):
    """Occupations of the harmonic-oscillator subshells (alternately j and r) by ``n`` nucleons with ``ju`` moved
    to the next subshell: (occupations by subshell 1..imax, last shell p, last subshell index, nucleons in the last
    extruder-intruder shell and its size)."""
    noc = [0] * 24
    ncum, i = 0, 0
    while True:
        i += 1
        size = i + 1 if i % 2 else i * (i - 2) // 4  # j subshells (odd i) hold i + 1, r subshells i(i-2)/4
        ncum += size
        if ncum >= n:
            break
        noc[i] = size
    p = (i - 1) // 2
    moc = n - ncum + size
    noc[i], noc[i + 1] = moc - ju, ju
    if i % 2:
        oei, dei = moc + p * (p - 1), p * (p + 1) + 2
    else:
        oei, dei = moc - ju, (p + 1) * (p + 2) + 2
    return noc, p, i, float(oei), float(dei)


def _terms_one(nx: int, nz: int) -> np.ndarray:
    """T_k of one nucleus, spherical (row 0) and deformed (row 1)."""
    a, t = nx + nz, abs(nx - nz)
    r = a ** (1 / 3)
    rc = r * (1 - 0.25 * (t / a) ** 2)  # charge radius
    ra = rc * rc / r
    z2 = nz * (nz - 1)
    out = np.zeros((2, 10))
    for d, ju in ((0, 0), (1, 4)):
        T = out[d]
        T[0] = (-z2 + 0.76 * z2 ** (2 / 3)) / rc
        op, os_, dx, qx, pp = [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0, 0]
        for j, n in enumerate((nx, nz)):
            noc, p, last, oei, dei = _shells(n, ju)
            pp[j] = p
            qx[j] = oei * (dei - oei - ju) / dei
            dx[j] = qx[j] * (2 * oei - dei)
            if d == 1:
                qx[j] /= math.sqrt(dei)
            amp = np.zeros((last // 2 + 2, 2))
            for i in range(1, last + 2):
                ip = (i - 1) // 2
                amp[ip, 0] += noc[i] / math.sqrt((ip + 1.0) * (ip + 2.0))
                amp[ip, 1] += noc[i] * (0.5 * ip if i % 2 else -1.0)
            for ip in range(last // 2 + 1):
                den = ((ip + 1) * (ip + 2)) ** 1.5
                op[j] += amp[ip, 0]
                os_[j] += amp[ip, 1] * (1 + amp[ip, 0]) * (ip * ip / den) \
                    + amp[ip, 1] * (1 - amp[ip, 0]) * ((4 * ip - 5) / den)
            op[j] *= op[j]
        T[1] = op[0] + op[1]
        T[2] = -T[1] / ra
        T[1] += os_[0] + os_[1]
        T[3] = -t * (t + 2) / (r * r)
        T[4] = -T[3] / ra + t * (1 - t) / (a * ra ** 3)
        if d == 0:
            T[5] = dx[0] + dx[1]
            T[6] = -T[5] / ra
            T[7] = qx[0] * qx[1] * 2 ** (math.sqrt(pp[0]) + math.sqrt(pp[1]))
        else:
            T[8] = qx[0] * qx[1]
        n_even, z_even = nx % 2 == 0, nz % 2 == 0
        if n_even and z_even:
            T[9] = 2 - t / a
        elif not n_even and not z_even:
            T[9] = t / a
        elif nx > nz:
            T[9] = 1 - t / a if n_even else 1.0
        else:
            T[9] = 1.0 if n_even else 1 - t / a
        T[1:] /= ra
    return out


def terms(z, n) -> np.ndarray:
    """T_k(N, Z) of every nucleus: shape (nuclei, 2, 10), spherical then deformed."""
    z, n = np.asarray(z), np.asarray(n)
    if z.shape != n.shape or not np.all((z >= 1) & (n >= 1) & (z == np.round(z)) & (n == np.round(n))):
        raise KansymError("Duflo-Zuker terms need whole numbers Z, N >= 1 of equal length")
    return np.array([_terms_one(int(b), int(a)) for a, b in zip(z.ravel(), n.ravel())]).reshape(z.shape + (2, 10))


def binding_energy(z, n, b=PUBLISHED, T: np.ndarray | None = None) -> np.ndarray:
    """B(N, Z) [MeV] with constants ``b`` (the deformed value where it binds more and Z > 50)."""
    T = terms(z, n) if T is None else T
    y = T @ np.asarray(b, dtype=float)  # n is not needed when the terms are given
    deformed = (y[..., 1] - y[..., 0] > 0) & (np.asarray(z) > 50)
    return np.where(deformed, y[..., 1], y[..., 0])


def refit(z, n, be, b0=PUBLISHED, iterations: int = 20) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ten constants least-squares fitted to binding energies ``be`` [MeV]: (constants, standard errors,
    correlation matrix). Which nuclei count as deformed depends on the constants: the choice is fixed, the linear
    fit solved and the choice redone, ``iterations`` times at most; of the constants met on the way (the choice
    may cycle between two sets of nuclei) those whose formula, with its own choice, fits best are kept. The errors
    are those of the linear fit with that choice."""
    T = terms(z, n)
    be, z = np.asarray(be, dtype=float), np.asarray(z)
    b = np.asarray(b0, dtype=float)
    seen, best = [], None
    for _ in range(iterations):
        y = T @ b
        chosen = (y[:, 1] - y[:, 0] > 0) & (z > 50)
        if any(np.array_equal(chosen, s) for s in seen):
            break
        seen.append(chosen)
        design = np.where(chosen[:, None], T[:, 1, :], T[:, 0, :])
        b, *_ = np.linalg.lstsq(design, be, rcond=None)
        score = float(np.mean((binding_energy(z, None, b, T) - be) ** 2))
        if best is None or score < best[0]:
            best = (score, b)
    b = best[1]
    y = T @ b
    chosen = (y[:, 1] - y[:, 0] > 0) & (z > 50)
    design = np.where(chosen[:, None], T[:, 1, :], T[:, 0, :])
    resid = be - design @ b
    dof = max(len(be) - len(b), 1)
    cov = np.linalg.inv(design.T @ design) * float(resid @ resid) / dof
    err = np.sqrt(np.diag(cov))
    return b, err, cov / np.outer(err, err)
