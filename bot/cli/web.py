"""`kindling serve`: the supporters' action pages and the click-recording redirect."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

from bot.config import Config
from bot.problems import ProblemsFound


def register(
    main: click.Group, load: Callable[[click.Context], Config], fail: Callable[[list], None]
) -> None:
    @main.command()
    @click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
    @click.option("--port", type=int, default=8000, show_default=True, help="Port to listen on.")
    @click.option(
        "--postcodes",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Postcode -> constituency CSV, for the postcode search (format: bot/web/finder.py).",
    )
    @click.option(
        "--pairings",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Westminster -> Senedd constituency CSV (default: the 2026 pairings).",
    )
    @click.pass_context
    def serve(
        ctx: click.Context, host: str, port: int, postcodes: Path | None, pairings: Path | None
    ) -> None:
        """Serve the campaigns' action pages and the click-recording /go/ redirect."""
        import uvicorn

        from bot import logs
        from bot.store.revision import DatabaseNotReady
        from bot.web import WebOptions, create_app
        from bot.web.server import ensure_open_files

        config = load(ctx)
        logs.configure(config.settings.logging)
        try:
            app = create_app(config, WebOptions(postcodes=postcodes, pairings=pairings))
        except ProblemsFound as found:
            fail(found.problems)
            return
        try:
            app.web.store.require_migrated()
        except DatabaseNotReady as exc:
            click.echo(f"kindling serve: {exc}", err=True)
            sys.exit(1)
        ensure_open_files(config.settings.web.max_connections)
        uvicorn.run(app, **app.uvicorn_options(host, port))
