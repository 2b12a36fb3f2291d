"""Old formats read in one place: run configurations and network checkpoints written by earlier kansym versions
become the current format here, and nowhere else.

* config.json without ``baseline`` (before baselines): ``detrend`` true meant ``linear``, false ``none``.
* config.json without ``aggregate`` (before the median rule): members were averaged (``mean``).
* config.json without ``trainer`` (before the fast trainer): ``MultKAN.fit`` trained the networks (``pykan``).
* config.json without ``crosscheck_generations`` and a single ``lib`` other than ``poly``: that version also
  searched ``poly``, so the library reads ``LIB+poly``.
* scalers.json without ``schedule.trainer``: ``pykan``; without ``beyond``: ``spline`` (no clamping rule);
  without ``bounds``: none; a ``trend`` stored as [w, b] (kansym 0.1): a ``linear`` baseline of x0, x1, ...
"""

from __future__ import annotations


CHECKPOINT_FIELDS = frozenset({"width", "k", "seed", "schedule", "beyond", "bounds", "coarse_bounds", "detrend",
                               "baseline", "feature_names", "trend", "x_scaler", "y_scaler", "importance",
                               "n_features_in"})
"""The fields of a network checkpoint's scalers.json (:meth:`kansym.network.regressor.KANRegressor.checkpoint_meta`)."""


def config_record(record: dict) -> dict:
    """A run's config.json in the current format (a copy; fields the current version does not know are kept).
    The types of the fields are checked afterwards (:func:`kansym.pipeline.config.run_config`); a field this
    migration reads must already have its type (ValueError otherwise)."""
    if not isinstance(record, dict):
        raise ValueError(f"a run configuration is a JSON object, not {type(record).__name__}")
    for key, kind in (("detrend", (bool, type(None))), ("lib", str)):
        if key in record and not isinstance(record[key], kind):
            raise ValueError(f"config field {key!r} has the wrong type ({type(record[key]).__name__})")
    out = dict(record)
    if "baseline" not in record and record.get("detrend") is not None:
        out["baseline"] = "linear" if record["detrend"] else "none"
    if "aggregate" not in record:
        out["aggregate"] = "mean"
    if "trainer" not in record:
        out["trainer"] = "pykan"
    lib = record.get("lib")
    if "crosscheck_generations" not in record and isinstance(lib, str) and "+" not in lib and lib != "poly":
        out["lib"] = lib + "+poly"
    return out


def checkpoint_meta(meta: dict) -> dict:
    """A network checkpoint's scalers.json in the current format (a copy); ValueError for a record that is not one
    (at most 1000 inputs, as a network of kansym has)."""
    if not isinstance(meta, dict) or not isinstance(meta.get("schedule"), dict) or "trend" not in meta:
        raise ValueError("a checkpoint record is a JSON object with 'schedule' and 'trend'")
    n = meta.get("n_features_in")
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 1000:
        raise ValueError(f"a checkpoint's n_features_in must be a whole number in 1 .. 1000, got {str(n)[:20]}")
    unknown = sorted(str(k)[:40] for k in meta if k not in CHECKPOINT_FIELDS)
    if unknown:
        raise ValueError(f"a checkpoint record holds {', '.join(map(repr, unknown[:3]))}, not a field kansym writes")
    out = dict(meta)
    out["schedule"] = {"trainer": "pykan", **meta["schedule"]}
    out.setdefault("beyond", "spline")
    out.setdefault("bounds", None)
    out.setdefault("coarse_bounds", None)
    trend = meta["trend"]
    if not isinstance(trend, dict):  # [w, b]
        names = [f"x{i}" for i in range(n)]
        w, b = trend
        out["trend"] = ({"kind": "none", "terms": [], "coef": [], "variables": names, "delta": None}
                        if not any(w) and not b else
                        {"kind": "linear", "terms": [*names, "1"], "coef": [*map(float, w), float(b)],
                         "variables": names, "delta": None})
    return out
