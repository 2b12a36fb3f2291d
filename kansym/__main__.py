"""``python -m kansym`` runs the command-line interface."""

from kansym.cli.launch import main

main()
