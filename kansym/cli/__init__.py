"""The ``kansym`` command: a typer app over the pipeline, rich rendering, the process's streams."""

from kansym.cli.commands import app, main

__all__ = ["app", "main"]
