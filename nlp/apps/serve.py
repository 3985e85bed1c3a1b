"""The analyst app: an HTTP API over ``nlp.model.predict`` and the feedback store, and the page at ``/``.

The model is loaded once by the caller and shared by every request. Requests name no files: the
only file a request reaches is the feedback database chosen when the app is created.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import os
from pathlib import Path
from typing import Callable

import anyio
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import InputError, TacticsError, TaxonomyError
from .feedback import FeedbackStore
from .scheduling import Busy, Scheduler
from ..model.predict import MAX_CHARS, TacticModel, check_text, classify_rows
from ..io.readers import Row, text_error

__all__ = ["create_app", "is_loopback", "LOOPBACK_NAMES", "DEFAULT_MAX_BATCH",
           "DEFAULT_MAX_REQUEST_CHARS", "DEFAULT_MAX_PENDING", "PIECE_CHARS"]

DEFAULT_MAX_BATCH = 64
DEFAULT_MAX_REQUEST_CHARS = 100_000   # about a second of one core's time, with evidence
DEFAULT_MAX_PENDING = 64              # requests classified or waiting; more get 503
PIECE_CHARS = 5_000                   # work is scheduled in pieces this size (see scheduling)
LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"]   # Host headers that reach a loopback server
STATIC_DIR = Path(__file__).with_name("static")
# The page loads only its own script and stylesheet; inline scripts and handlers never run.
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
            "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | int = Field(description="Your id for the text; echoed in its result.")
    text: str


class PredictRequest(BaseModel):
    """One ``text``, or ``items`` with ids; the answer is one result record per text. Fields
    other than these are refused."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    items: list[Item] | None = None
    evidence: bool = True

    @model_validator(mode="after")
    def _one_of(self) -> PredictRequest:
        if "text" in self.model_fields_set and self.text is None:
            raise ValueError("text is null; give a string (or 'items')")
        if (self.text is None) == (self.items is None):
            raise ValueError("give either 'text' or 'items'")
        return self

    def as_items(self) -> list[Item]:
        return self.items if self.items is not None else [Item(id=1, text=self.text)]


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str
    labels: list[str] = Field(description="Every tactic the text advances ([] for none).")
    note: str = Field("", max_length=2000)
    analyst: str = Field("", max_length=200)


def is_loopback(host: str) -> bool:
    """Whether binding to ``host`` keeps the server reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def create_app(model: TacticModel, *, db_path: str | Path, token: str | None = None,
               max_chars: int = MAX_CHARS, max_batch: int = DEFAULT_MAX_BATCH,
               max_request_chars: int = DEFAULT_MAX_REQUEST_CHARS,
               max_pending: int = DEFAULT_MAX_PENDING, lanes: int | None = None,
               piece_chars: int = PIECE_CHARS, allowed_hosts: list[str] | None = None) -> FastAPI:
    """The app serving ``model``. With a ``token``, the feedback endpoints require it as a bearer
    token; with ``allowed_hosts``, requests for any other Host header are refused (which stops
    DNS-rebinding pages from reaching a loopback server). Requests are limited to ``max_batch``
    texts of at most ``max_chars`` characters and ``max_request_chars`` in all (413 beyond);
    prediction runs on ``lanes`` threads (default: one per core) in pieces of ``piece_chars``
    through a fair, bounded queue of ``max_pending`` requests (503 with Retry-After beyond; see
    ``nlp.apps.scheduling``).

    No interactive docs page (it would load its scripts from a CDN): the OpenAPI schema is at
    ``/openapi.json``."""
    app = FastAPI(title="Narrative tactics", version=model.version, docs_url=None,
                  redoc_url=None,
                  description="Tag media snippets with the narrative tactics they advance, and "
                              "store analysts' corrections.")
    if allowed_hosts:
        app.add_middleware(HostCheck, allowed=allowed_hosts)
    _add_error_handlers(app)
    store = FeedbackStore(db_path)
    limits = {"max_chars": max_chars, "max_batch": max_batch,
              "max_request_chars": max_request_chars, "max_pending": max_pending}
    scheduler = Scheduler(lanes=lanes or os.cpu_count() or 1, max_pending=max_pending,
                          piece_chars=piece_chars)
    app.state.scheduler = scheduler
    app.include_router(_api(model, store, scheduler, token=token, limits=limits))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html",
                            headers={"Content-Security-Policy": PAGE_CSP})

    return app


def _api(model: TacticModel, store: FeedbackStore, scheduler: Scheduler, *, token: str | None,
         limits: dict[str, int]) -> APIRouter:
    router = APIRouter()
    authorized = _bearer_check(token)
    # Prediction is CPU-bound: one thread per core runs it, in pieces, through the scheduler's
    # fair and bounded queue, which keeps the tail latency far lower than letting 40 threads
    # fight over the GIL, and keeps small requests from waiting behind large ones. Small
    # requests that arrive together are classified in one call (micro-batching).
    taxonomy = model.codebook().to_dict()   # the codebook the model explains its ids with
    settings = {"model": model.version, **limits, "feedback_requires_token": token is not None}

    @router.get("/healthz", summary="Liveness, the model version and the request limits")
    def healthz() -> dict:
        return {"status": "ok", **settings}

    @router.get("/v1/labels", summary="The taxonomy: tactic ids, families and definitions")
    def labels() -> dict:
        return taxonomy

    @router.get("/v1/model", summary="The model's model.json: version, thresholds, metrics")
    def model_meta() -> dict:
        return model.meta

    @router.post("/v1/predict", summary="Classify one text or a batch of texts")
    async def predict(request: PredictRequest) -> dict:
        """One result record per text, as `tactics predict --input` writes them: the id, then
        labels, scores, evidence, uncertain and model, or an ``error`` for a text that cannot be
        classified."""
        items = request.as_items()
        _check_limits([item.text for item in items], limits)
        rows = [_row(n, item) for n, item in enumerate(items, start=1)]
        classify = functools.partial(_classify, model, evidence=request.evidence)
        results = await scheduler.run(classify, rows, [len(item.text) for item in items],
                                      batch_key=("predict", request.evidence))
        return {"results": results}

    @router.post("/v1/feedback", status_code=201, dependencies=[Depends(authorized)],
                 summary="Store an analyst's corrected tactic set for a text")
    async def feedback(request: FeedbackRequest) -> dict:
        _check_limits([request.text], limits)
        text = check_text(request.text)
        [predicted] = await scheduler.run(functools.partial(model.predict, evidence=False),
                                          [text], [len(text)], batch_key=("feedback",))
        correction = await anyio.to_thread.run_sync(functools.partial(
            store.add, request.text, request.labels, predicted=predicted.labels,
            model_version=model.version, note=request.note, analyst=request.analyst))
        return correction.to_dict()

    @router.get("/v1/feedback/export", dependencies=[Depends(authorized)],
                summary="All corrections as training-format JSONL (newest per text)")
    def export() -> StreamingResponse:
        return StreamingResponse(
            store.export_jsonl(), media_type="application/x-ndjson",
            headers={"Content-Disposition": 'attachment; filename="feedback.jsonl"'})

    return router


def _row(number: int, item: Item) -> Row:
    """An input row as the file readers make it: a text that cannot be classified carries the
    same error the CLI would report."""
    error = text_error(item.text)
    return Row(number, item.id, None if error else item.text, error)


def _classify(model: TacticModel, rows: list[Row], *, evidence: bool) -> list[dict]:
    return list(classify_rows(model, rows, evidence=evidence))


def _check_limits(texts: list[str], limits: dict[str, int]) -> None:
    """413 for a request over a limit, before any work is done."""
    if len(texts) > limits["max_batch"]:
        _too_large(f"the batch holds {len(texts)} texts; the limit is {limits['max_batch']} "
                   f"per request", limits["max_batch"])
    for i, text in enumerate(texts):
        if len(text) > limits["max_chars"]:
            which = "the text" if len(texts) == 1 else f"text {i + 1} of {len(texts)}"
            _too_large(f"{which} is {len(text)} characters long; the limit is "
                       f"{limits['max_chars']}", limits["max_chars"])
    total = sum(map(len, texts))
    if total > limits["max_request_chars"]:
        _too_large(f"the request holds {total} characters of text; the limit is "
                   f"{limits['max_request_chars']} per request (send fewer texts per request)",
                   limits["max_request_chars"])


def _too_large(message: str, limit: int) -> None:
    raise HTTPException(413, {"error": message, "limit": limit})


def _bearer_check(token: str | None) -> Callable[..., None]:
    """A dependency that accepts a request only with ``Authorization: Bearer <token>`` (any
    request when ``token`` is None)."""
    bearer = HTTPBearer(auto_error=False, description="The token the server was started with.")

    def authorized(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if token is None:
            return
        given = credentials.credentials if credentials else ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(401, "a valid token is required: send the header "
                                     "'Authorization: Bearer <token>'",
                                headers={"WWW-Authenticate": "Bearer"})

    return authorized


class HostCheck:
    """Refuse a request whose Host header names none of ``allowed`` with a 400 that, like every
    error of the API, is ``{"error": ...}``."""

    def __init__(self, app: ASGIApp, allowed: list[str]) -> None:
        self.app, self.allowed = app, {name.lower() for name in allowed}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = Headers(scope=scope).get("host", "")
            name = (host[:host.find("]") + 1] if host.startswith("[") else host.split(":")[0])
            if name.lower() not in self.allowed:
                response = JSONResponse(
                    {"error": f"this server does not answer to the Host {host!r}; use one of "
                              f"{', '.join(sorted(self.allowed))}"}, status_code=400)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _add_error_handlers(app: FastAPI) -> None:
    """Every error answers ``{"error": "<one readable line>"}`` (plus ``limit`` for a 413 and
    ``retry_after`` for a 503)."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        body = exc.detail if isinstance(exc.detail, dict) else {"error": exc.detail}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        content_type = request.headers.get("content-type", "")
        if not _is_json(content_type):
            return JSONResponse({"error": f"send the body as JSON with the header 'Content-Type: "
                                          f"application/json' (got {content_type or 'none'!r})"},
                                status_code=415)
        problems = [f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
                    for error in exc.errors()]
        return JSONResponse({"error": "invalid request: " + "; ".join(problems)}, status_code=422)

    @app.exception_handler(Busy)
    async def busy(request: Request, exc: Busy) -> JSONResponse:
        return JSONResponse({"error": str(exc), "retry_after": exc.retry_after}, status_code=503,
                            headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(TacticsError)
    async def project_error(request: Request, exc: TacticsError) -> JSONResponse:
        status = 422 if isinstance(exc, (InputError, TaxonomyError)) else 500
        return JSONResponse({"error": str(exc)}, status_code=status)
