"""Networks and figures as files: checkpoints saved and loaded, figures saved (through the writing primitives of
:mod:`kansym.runs.store`), for the run writer (:mod:`kansym.pipeline.writer`) and for ensemble member tasks."""

from __future__ import annotations

import json
from pathlib import Path

from kansym.errors import KansymError
from kansym.network.regressor import KANRegressor, contained
from kansym.runs.migrate import checkpoint_meta
from kansym.runs.store import make_dir, save_figure, save_pykan, write_text_atomic
from kansym.safeio import MAX_READ_BYTES, parse_json_text, read_text_bounded


def save_network(regressor, directory: Path) -> None:
    """A fitted ``KANRegressor`` as a checkpoint in ``directory`` (created): pykan's two networks (final and
    coarse) and ``scalers.json`` (:meth:`KANRegressor.checkpoint_meta`), read back by :func:`load_network`."""
    meta = regressor.checkpoint_meta()
    directory = make_dir(directory)  # resolved before contained() changes the working directory
    with contained(regressor.seed):
        save_pykan(regressor.model_, directory / "model")
        save_pykan(regressor.coarse_model_, directory / "coarse")
    write_text_atomic(directory / "scalers.json", json.dumps(meta, indent=1))


def save_figures(figures, folder: Path, **savefig) -> None:
    """(file name, figure) pairs written into ``folder``."""
    for name, fig in figures:
        save_figure(fig, Path(folder) / name, **savefig)


def load_network(directory: Path) -> KANRegressor:
    """The regressor :func:`save_network` wrote to ``directory`` (old formats read by :mod:`kansym.runs.migrate`).
    Its files must be regular files of bounded size; anything broken is a KansymError naming the directory."""
    from kan import MultKAN

    directory = Path(directory).resolve()  # before contained() changes the working directory
    for name in CHECKPOINT_FILES:
        f = directory / name
        if f.is_symlink() or (f.exists() and not f.is_file()):  # a FIFO or a device would block pykan's reader
            raise KansymError(f"cannot load the KAN checkpoint in {directory}: {name} is not a regular file")
        if f.exists() and f.stat().st_size > MAX_READ_BYTES:
            raise KansymError(f"cannot load the KAN checkpoint in {directory}: {name} is larger than "
                              f"{MAX_READ_BYTES // 1_000_000} MB")
    try:
        meta = checkpoint_meta(parse_json_text(read_text_bounded(directory / "scalers.json", what="checkpoint file"),
                                               directory / "scalers.json"))
        for part, grid in (("model", meta["schedule"]["grids"][-1]), ("coarse", meta["schedule"]["grids"][0])):
            _check_pykan_config(directory / f"{part}_config.yml", meta, grid)
        with contained(int(meta["seed"])):
            model = MultKAN.loadckpt(str(directory / "model"))
            coarse = MultKAN.loadckpt(str(directory / "coarse"))
        return KANRegressor.from_checkpoint(meta, model, coarse)
    except Exception as exc:  # truncated pickles (EOFError), foreign files, YAML and shape mismatches alike
        if isinstance(exc, KansymError):
            if str(exc).startswith("cannot load the KAN checkpoint"):
                raise
            raise KansymError(f"cannot load the KAN checkpoint in {directory}: {exc}") from None
        raise KansymError(f"cannot load the KAN checkpoint in {directory}: {type(exc).__name__}: "
                          f"{str(exc).splitlines()[0][:100] if str(exc) else 'broken file'}") from None


CHECKPOINT_FILES = ("scalers.json", "model_config.yml", "model_state", "model_cache_data", "coarse_config.yml",
                    "coarse_state", "coarse_cache_data")


def _check_pykan_config(path: Path, meta: dict, grid: int) -> None:
    """pykan's network description must be the one ``scalers.json`` records (its grid, spline order, inputs,
    widths no larger than trained), before pykan allocates anything from it."""
    import yaml

    class NoAliases(yaml.SafeLoader):
        """pykan writes no anchors or aliases (refused: they can expand a small file into billions of items) and no
        key twice (refused: the reader would take the last one silently)."""

        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                raise yaml.YAMLError("an alias")
            return super().compose_node(parent, index)

        def construct_mapping(self, node, deep=False):
            keys = [k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode)]
            if len(set(keys)) < len(keys):
                raise yaml.YAMLError("a key given twice")
            return super().construct_mapping(node, deep)

    try:
        conf = yaml.load(read_text_bounded(path, what="checkpoint file"), Loader=NoAliases)  # noqa: S506 (safe)
    except (yaml.YAMLError, ValueError, RecursionError):  # also integers of thousands of digits, deep nesting
        raise KansymError(f"cannot load the KAN checkpoint in {path.parent}: {path.name} is not YAML as pykan "
                          "writes it (no aliases, no key twice, no deep nesting or huge numbers)") from None
    if isinstance(conf, dict):
        _check_pykan_settings(conf, path)
    widths = conf.get("width") if isinstance(conf, dict) else None
    nodes = [w[0] if isinstance(w, list) and w else w for w in widths] if isinstance(widths, list) else []
    largest = max([int(meta["n_features_in"]), *map(int, meta["width"])])
    span = conf.get("grid_range") if isinstance(conf, dict) else None
    ok = isinstance(span, list) and len(span) == 2 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and -1e6 < v < 1e6 for v in span) and span[0] < span[1]
    ok = ok and conf.get("grid") == grid and conf.get("k") == meta["k"] and \
        2 <= len(nodes) <= len(meta["width"]) + 2 and nodes[0] == meta["n_features_in"] and nodes[-1] == 1 and \
        all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= largest for n in nodes)
    if not ok:
        raise KansymError(f"cannot load the KAN checkpoint in {path.parent}: {path.name} does not describe the "
                          f"network scalers.json records (grid {grid}, spline order {meta['k']}, "
                          f"{meta['n_features_in']} inputs, hidden widths <= {max(map(int, meta['width']))}, a finite grid range)")


_PYKAN_FIXED = {"affine_trainable": False, "auto_save": False, "base_fun_name": "silu", "ckpt_path": "model",
                "device": "cpu", "grid_eps": 0.02, "mult_arity": 2, "sb_trainable": True, "sp_trainable": True,
                "symbolic_enabled": True}
"""pykan settings every network kansym saves has (a CPU device, no checkpoints written on load, SiLU bases)."""
_PYKAN_KEYS = {*_PYKAN_FIXED, "grid", "grid_range", "k", "round", "state_id", "width"}


def _shown(value) -> str:
    """A setting for a message: a scalar's text (at most 40 characters), a container's type only."""
    return type(value).__name__ if isinstance(value, (list, dict, tuple, set)) else repr(str(value)[:40])


def _check_pykan_settings(conf: dict, path: Path) -> None:
    """The settings of pykan's network description must be the ones kansym writes: no other key, the fixed
    values above (a type included: 1 is not True), counters that are small whole numbers, and one known symbolic
    function name per edge."""
    from kan.utils import SYMBOLIC_LIB

    def refuse(what: str):
        raise KansymError(f"cannot load the KAN checkpoint in {path.parent}: {path.name} {what}")

    widths = conf.get("width")
    nodes = [w[0] if isinstance(w, list) and w else w for w in widths] if isinstance(widths, list) else []
    funs = {f"symbolic.funs_name.{layer}" for layer in range(max(len(nodes) - 1, 0))}
    extra = sorted(str(k) for k in conf if k not in _PYKAN_KEYS and k not in funs)
    if extra:
        refuse(f"has a setting kansym does not write: {extra[0][:40]!r}")
    for key, value in _PYKAN_FIXED.items():
        if key not in conf or type(conf[key]) is not type(value) or conf[key] != value:
            refuse(f"sets {key} to {_shown(conf.get(key))}; kansym's networks have {value!r}")
    for key in ("round", "state_id"):
        v = conf.get(key)
        if type(v) is not int or not 0 <= v <= 1_000_000:
            refuse(f"sets {key} to {_shown(v)}; expected a whole number in 0 .. 1000000")
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in nodes):
        return  # the width itself is refused by the caller, with the network scalers.json records
    for layer, name in enumerate(sorted(funs, key=lambda s: int(s.rsplit(".", 1)[1]))):
        rows = conf.get(name)
        ok = isinstance(rows, list) and len(rows) == nodes[layer + 1] and all(
            isinstance(r, list) and len(r) == nodes[layer] and all(isinstance(f, str) and f in SYMBOLIC_LIB for f in r)
            for r in rows)
        if not ok:
            refuse(f"has {name} that is not one known symbolic function name per edge of layer {layer}")
