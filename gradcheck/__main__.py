"""``python -m gradcheck``."""

from gradcheck.cli.main import main

main(prog_name="gradcheck")
