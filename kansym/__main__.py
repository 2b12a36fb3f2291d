"""``python -m kansym`` runs the command-line interface."""

from kansym.cli import main

main()
