"""Thin launcher: ``python cli.py ARGS`` is ``kansym ARGS``."""

from kansym.cli.commands import main

if __name__ == "__main__":
    main()
