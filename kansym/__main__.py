"""``python -m kansym`` runs the command-line interface."""

from kansym.cli.commands import main

main()
