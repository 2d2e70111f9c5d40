"""Runs `kindling serve`'s application for the browser tests: python -m tests.web.browser_server ROOT PORT."""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

from bot.web import WebOptions, create_app
from tests.web.conftest import make_config


def main() -> None:
    root, port = Path(sys.argv[1]), int(sys.argv[2])
    app = create_app(make_config(root), WebOptions(postcodes=root / "postcodes.csv"))
    uvicorn.run(app, **app.uvicorn_options("127.0.0.1", port, log_level="warning"))


if __name__ == "__main__":
    main()
