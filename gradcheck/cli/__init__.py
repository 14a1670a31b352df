"""The command line: one small module per command, errors translated once at the group."""

from gradcheck.cli.main import main

__all__ = ["main"]
