"""`tactics serve`: the analyst app (web page and HTTP API) under uvicorn."""

from __future__ import annotations

import contextlib
import gc
import signal
from pathlib import Path
from typing import Optional

import typer

from ._util import EXIT_USAGE, MODEL_OPTION, app, errors_to_exit, fail

TOKEN_ENV = "TACTICS_TOKEN"


@app.command()
@errors_to_exit
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Address to bind; anything but loopback needs a token."),
    port: int = typer.Option(8000, help="Port to listen on."),
    db: Optional[Path] = typer.Option(None, "--db", help="Feedback database (default: $TACTICS_DATA_DIR/feedback.sqlite3, else the user's data directory)."),
    token_file: Optional[Path] = typer.Option(None, "--token-file", help="File whose first line is the token that saving and exporting feedback require."),
    token: Optional[str] = typer.Option(None, "--token", envvar=TOKEN_ENV, help=f"The token itself; prefer ${TOKEN_ENV} or --token-file: a command-line argument is visible to every user of the machine (ps)."),
    max_request_chars: Optional[int] = typer.Option(None, min=1, help="Characters of text one request may carry in all; 413 beyond (default: 100,000)."),
    max_pending: Optional[int] = typer.Option(None, min=1, help="Requests classified or waiting at once; more are answered 503 with Retry-After (default: 64)."),
    piece_chars: Optional[int] = typer.Option(None, min=1, help="Work is scheduled in pieces of about this many characters: smaller is fairer to small requests (default: 5,000)."),
    model: Optional[Path] = MODEL_OPTION,
) -> None:
    """Serve the analyst page at http://HOST:PORT/ and the API under /v1 (its OpenAPI schema
    at /openapi.json).

    Examples:\n
      tactics serve\n
      tactics serve --port 8080 --db ~/tactics-feedback.sqlite3\n
      TACTICS_TOKEN=s3cret tactics serve --host 0.0.0.0\n
      tactics serve --host 0.0.0.0 --token-file /etc/tactics/token
    """
    try:
        import uvicorn

        from ..apps.feedback import default_db_path
        from ..apps.serve import LOOPBACK_NAMES, create_app, is_loopback
    except ModuleNotFoundError as exc:
        fail(f"`tactics serve` needs the serve extra ({exc.name} is missing): "
             f"pip install 'narrative-tactics[serve]'")
    from ..model.predict import load_model

    token = _token(ctx, token, token_file)
    local = is_loopback(host)
    if not local and token is None:
        fail(f"refusing to listen on {host}, which other machines can reach, without a token: "
             f"set ${TOKEN_ENV} or pass --token-file, or keep the default --host 127.0.0.1")
    db_path = db or default_db_path()
    limits = {name: value for name, value in (("max_request_chars", max_request_chars),
                                              ("max_pending", max_pending),
                                              ("piece_chars", piece_chars)) if value is not None}
    web_app = create_app(load_model(model), db_path=db_path, token=token,
                         allowed_hosts=[*LOOPBACK_NAMES, host] if local else None, **limits)
    typer.echo(f"feedback database: {db_path}", err=True)
    # The model and the app live as long as the process: keeping their objects out of the
    # collector's full passes took the load test's p99 from about 200 ms to 80-130 ms.
    gc.collect()
    gc.freeze()
    # uvicorn shuts down gracefully on SIGTERM and then re-raises it: let it end the process as
    # a signal does (a clean stop for supervisors), not as the other commands' exit code 143.
    with contextlib.suppress(ValueError):      # ValueError: not the main thread
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    uvicorn.run(web_app, host=host, port=port, log_level="info")


def _token(ctx: typer.Context, token: str | None, token_file: Path | None) -> str | None:
    """The token from --token-file, $TACTICS_TOKEN or --token (with a warning: other users see
    command lines), or None."""
    source = ctx.get_parameter_source("token")   # an enum of typer's own click, compared by name
    given_as_argument = getattr(source, "name", None) == "COMMANDLINE"
    if token_file is not None:
        if token is not None:
            fail(f"give the token once: --token-file, or ${TOKEN_ENV} / --token", EXIT_USAGE)
        try:
            token = token_file.read_text(encoding="utf-8").partition("\n")[0]
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"{token_file}: cannot read the token ({exc.__class__.__name__}: {exc})")
        if not token.strip():
            fail(f"{token_file}: the first line is empty; put the token there")
    elif given_as_argument:
        typer.echo(f"warning: --token on the command line is visible to every user of this "
                   f"machine (ps, /proc); set ${TOKEN_ENV} or use --token-file instead", err=True)
    return (token or "").strip() or None
