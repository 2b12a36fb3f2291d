"""Ensemble consensus: a robust combination of member predictions, divergent members, and sigma_ens.

All quantities are in the target's units (MeV). For the member predictions ``P`` (members x nuclei)
on a set of nuclei being predicted:

* **Departure** of member m: d_m = RMS over those nuclei of p_m - median of the other members.
* **Divergent member**: d_m > max(``RELATIVE`` x median_j d_j, ``scale``), where ``scale`` is the
  training RMSE of the ensemble's best member: a member departing from the rest by three times as much as a typical
  member, and by more than the fit's own accuracy, is dropped. A member that departs less than the
  training accuracy is never divergent, however well the others agree.
* **An ensemble that does not agree**: when the median departure exceeds ``ABSOLUTE`` x ``scale``,
  or the divergent members are not a strict minority, no subset can be trusted; a strict check
  (the run's measured test nuclei) fails, naming the members; elsewhere it is reported.
* **Prediction**: the median over the kept members (the mean of the middle two for an even count),
  which one runaway member cannot drag along. ``rule='mean'`` averages instead.
* **sigma_ens**: the sample standard deviation (ddof = 1) of the kept members per nucleus, zero for
  identical members and NaN for a single member (one network gives no spread).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from kansym.errors import KansymError
from kansym.metrics import rms

RELATIVE = 3.0  # a member diverges when its departure exceeds this multiple of the median departure ...
ABSOLUTE = 5.0  # ... and the ensemble disagrees as a whole when the median departure exceeds this x scale
RULES = ("median", "mean")


@dataclass(frozen=True)
class Consensus:
    """The combined prediction of an ensemble on one set of nuclei."""

    prediction: np.ndarray  # per nucleus, over the kept members
    sigma_ens: np.ndarray  # per nucleus: sample std of the kept members (NaN with one member)
    departure: tuple[float, ...]  # per member: RMS departure from the median of the others
    kept: tuple[int, ...]  # member indices used
    dropped: tuple[int, ...]  # member indices found divergent
    agrees: bool  # False: the ensemble as a whole disagrees (see module docstring)
    threshold: float  # departure above which a member is divergent
    scale: float

    def summary(self, labels=None) -> dict:
        """Plain data for JSON; ``labels`` names the members (e.g. their seeds)."""
        labels = list(labels) if labels is not None else list(range(len(self.departure)))
        return {"departure_mev": dict(zip(map(str, labels), self.departure)),
                "threshold_mev": self.threshold, "training_rmse_mev": self.scale,
                "kept": [labels[i] for i in self.kept], "dropped": [labels[i] for i in self.dropped],
                "agrees": self.agrees, "reason": self.reason(labels)}

    def reason(self, labels=None) -> str:
        labels = list(labels) if labels is not None else list(range(len(self.departure)))
        if not self.agrees:
            return (f"the members disagree: median departure {np.median(self.departure):.3g} MeV > "
                    f"{ABSOLUTE:g} x training RMSE {self.scale:.3g} MeV, or no strict majority agrees")
        if not self.dropped:
            return "no member diverges"
        return "; ".join(f"member {labels[i]} departs {self.departure[i]:.3g} MeV RMS from the median of the others "
                         f"(threshold {self.threshold:.3g} = max({RELATIVE:g} x median departure, training RMSE))"
                         for i in self.dropped)


def departures(P: np.ndarray) -> np.ndarray:
    """RMS over nuclei of each member minus the median of the other members' finite values (NaN for
    one member; infinite for a member with a non-finite prediction)."""
    P = np.asarray(P, dtype=np.float64)
    n = len(P)
    if n < 2:
        return np.full(n, np.nan)
    out = np.empty(n)
    finite = np.where(np.isfinite(P), P, np.nan)
    for m in range(n):
        if not np.isfinite(P[m]).all():
            out[m] = np.inf
            continue
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: every other member is non-finite
            others = np.nanmedian(np.delete(finite, m, axis=0), axis=0)
        diff = P[m] - others
        out[m] = rms(diff[np.isfinite(diff)]) if np.isfinite(diff).any() else 0.0
    return out


def combine(P: np.ndarray, rule: str = "median") -> tuple[np.ndarray, np.ndarray]:
    """(prediction, sigma_ens) per nucleus from member predictions ``P`` (members x nuclei)."""
    if rule not in RULES:
        raise KansymError(f"unknown ensemble rule {rule!r}; valid choices: {', '.join(RULES)}")
    P = np.asarray(P, dtype=np.float64)
    pred = np.median(P, axis=0) if rule == "median" else np.mean(P, axis=0)
    return pred, spread(P)


def spread(P: np.ndarray) -> np.ndarray:
    """Sample standard deviation (ddof = 1) over members per nucleus, exactly zero where the members
    agree exactly (deviations taken from the first member); NaN for a single member."""
    P = np.asarray(P, dtype=np.float64)
    n = len(P)
    if n < 2:
        return np.full(P.shape[1], np.nan)
    d = P - P[0]
    var = (np.sum(d**2, axis=0) - np.sum(d, axis=0) ** 2 / n) / (n - 1)
    return np.sqrt(np.clip(var, 0.0, None))


def consensus(P: np.ndarray, scale: float, rule: str = "median", exclude=()) -> Consensus:
    """Find divergent members on the nuclei of ``P`` (members x nuclei), drop them and combine the rest.

    ``scale`` is the best member's training RMSE [MeV]; ``exclude`` are members already dropped
    elsewhere (e.g. on the run's test nuclei), left out before the departures are computed.
    """
    P = np.asarray(P, dtype=np.float64)
    if not np.isfinite(scale) or scale < 0:
        raise KansymError(f"the ensemble's training RMSE must be finite and >= 0, got {scale}")
    candidates = [m for m in range(len(P)) if m not in set(exclude)]
    if not candidates:
        raise KansymError("no ensemble member left to predict with")
    sub = P[candidates]
    d_sub = departures(sub)
    d = np.full(len(P), np.nan)
    d[candidates] = d_sub
    if len(candidates) < 2:
        pred, sigma = combine(sub, rule)
        return Consensus(pred, sigma, tuple(map(float, d)), tuple(candidates), (), True, float("nan"), float(scale))
    typical = float(np.median(d_sub))  # inf when most members are non-finite somewhere
    threshold = max(RELATIVE * typical, float(scale))
    # a non-finite prediction (infinite departure) makes a member divergent outright
    bad = [m for m, dm in zip(candidates, d_sub) if dm > threshold or not np.isfinite(dm)]
    kept = [m for m in candidates if m not in bad]
    agrees = typical <= ABSOLUTE * scale and len(kept) > len(candidates) / 2
    pred, sigma = combine(P[kept] if kept else sub, rule)
    return Consensus(pred, sigma, tuple(map(float, d)), tuple(kept), tuple(sorted(bad)), bool(agrees),
                     float(threshold), float(scale))


def calibration(residual: np.ndarray, sigma: np.ndarray) -> dict:
    """Fractions of nuclei with |residual| <= 1 sigma and <= 2 sigma (Gaussian: 0.683, 0.954)."""
    residual, sigma = np.asarray(residual, dtype=np.float64), np.asarray(sigma, dtype=np.float64)
    ok = np.isfinite(residual) & np.isfinite(sigma)
    if not ok.any():
        return {"n": 0, "within_1_sigma": None, "within_2_sigma": None, "gaussian": [0.683, 0.954]}
    r, s = np.abs(residual[ok]), sigma[ok]
    return {"n": int(ok.sum()), "within_1_sigma": float(np.mean(r <= s)), "within_2_sigma": float(np.mean(r <= 2 * s)),
            "rms_sigma_mev": float(np.sqrt(np.mean(s**2))), "rms_residual_mev": float(np.sqrt(np.mean(r**2))),
            "gaussian": [0.683, 0.954]}
