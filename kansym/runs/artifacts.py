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
    for name in ("model_config.yml", "model_state", "coarse_config.yml", "coarse_state"):
        f = directory / name
        if f.exists() and not f.is_file():  # a FIFO or a device would block pykan's reader
            raise KansymError(f"cannot load the KAN checkpoint in {directory}: {name} is not a regular file")
        if f.exists() and f.stat().st_size > MAX_READ_BYTES:
            raise KansymError(f"cannot load the KAN checkpoint in {directory}: {name} is larger than "
                              f"{MAX_READ_BYTES // 1_000_000} MB")
    try:
        meta = checkpoint_meta(parse_json_text(read_text_bounded(directory / "scalers.json", what="checkpoint file"),
                                               directory / "scalers.json"))
        with contained(int(meta["seed"])):
            model = MultKAN.loadckpt(str(directory / "model"))
            coarse = MultKAN.loadckpt(str(directory / "coarse"))
        return KANRegressor.from_checkpoint(meta, model, coarse)
    except Exception as exc:  # truncated pickles (EOFError), foreign files, YAML and shape mismatches alike
        raise KansymError(f"cannot load the KAN checkpoint in {directory}: {type(exc).__name__}: "
                          f"{str(exc).splitlines()[0][:200] if str(exc) else 'broken file'}") from None
