"""`python -m bot` runs the `kindling` command line."""

from __future__ import annotations

from bot.cli.main import main

main(prog_name="kindling")
