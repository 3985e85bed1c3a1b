"""`tactics serve`: the analyst app (web page and HTTP API) under uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._util import MODEL_OPTION, app, errors_to_exit, fail

TOKEN_ENV = "TACTICS_TOKEN"


@app.command()
@errors_to_exit
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to bind; anything but loopback needs --token."),
    port: int = typer.Option(8000, help="Port to listen on."),
    db: Optional[Path] = typer.Option(None, "--db", help="Feedback database (default: $TACTICS_DATA_DIR/feedback.sqlite3, else the user's data directory)."),
    token: Optional[str] = typer.Option(None, "--token", envvar=TOKEN_ENV, help="Token that saving and exporting feedback require."),
    model: Optional[Path] = MODEL_OPTION,
) -> None:
    """Serve the analyst page at http://HOST:PORT/ and the API under /v1 (docs at /docs).

    Examples:\n
      tactics serve\n
      tactics serve --port 8080 --db ~/tactics-feedback.sqlite3\n
      TACTICS_TOKEN=s3cret tactics serve --host 0.0.0.0
    """
    try:
        import uvicorn

        from ..apps.feedback import default_db_path
        from ..apps.serve import LOOPBACK_NAMES, create_app, is_loopback
    except ModuleNotFoundError as exc:
        fail(f"`tactics serve` needs the serve extra ({exc.name} is missing): "
             f"pip install 'narrative-tactics[serve]'")
    from ..model.predict import load_model

    token = (token or "").strip() or None
    local = is_loopback(host)
    if not local and token is None:
        fail(f"refusing to listen on {host}, which other machines can reach, without a token: "
             f"pass --token or set ${TOKEN_ENV}, or keep the default --host 127.0.0.1")
    db_path = db or default_db_path()
    web_app = create_app(load_model(model), db_path=db_path, token=token,
                         allowed_hosts=[*LOOPBACK_NAMES, host] if local else None)
    typer.echo(f"feedback database: {db_path}", err=True)
    uvicorn.run(web_app, host=host, port=port, log_level="info")
