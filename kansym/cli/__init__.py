"""The ``kansym`` command: a typer app over the pipeline, rich rendering, the process's streams.

``app`` and ``main`` are imported on first use, so that the console script (:mod:`kansym.cli.launch`) can install
its signal handlers before the command's libraries load."""

__all__ = ["app", "main"]


def __getattr__(name):
    if name in __all__:
        from kansym.cli import commands

        return getattr(commands, name)
    raise AttributeError(f"module 'kansym.cli' has no attribute {name!r}")
