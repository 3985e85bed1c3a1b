"""The analyst app: an HTTP API over ``nlp.model.predict`` and the feedback store, and the page at ``/``.

The model is loaded once by the caller and shared by every request. Requests name no files: the
only file a request reaches is the feedback database chosen when the app is created.
"""

from __future__ import annotations

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
from pydantic import BaseModel, Field, model_validator
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from ..errors import InputError, TacticsError, TaxonomyError
from .feedback import FeedbackStore
from ..model.predict import MAX_CHARS, TacticModel, check_text, classify_rows
from ..io.readers import Row, text_error
from ..taxonomy import load_taxonomy

__all__ = ["create_app", "is_loopback", "LOOPBACK_NAMES", "DEFAULT_MAX_BATCH"]

DEFAULT_MAX_BATCH = 64
LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"]   # Host headers that reach a loopback server
STATIC_DIR = Path(__file__).with_name("static")
# The page loads only its own script and stylesheet; inline scripts and handlers never run.
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
            "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


class Item(BaseModel):
    id: str | int = Field(description="Your id for the text; echoed in its result.")
    text: str


class PredictRequest(BaseModel):
    """One ``text``, or ``items`` with ids; the answer is one result record per text."""

    text: str | None = None
    items: list[Item] | None = None
    evidence: bool = True

    @model_validator(mode="after")
    def _one_of(self) -> PredictRequest:
        if (self.text is None) == (self.items is None):
            raise ValueError("give either 'text' or 'items'")
        return self

    def as_items(self) -> list[Item]:
        return self.items if self.items is not None else [Item(id=1, text=self.text)]


class FeedbackRequest(BaseModel):
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
               allowed_hosts: list[str] | None = None) -> FastAPI:
    """The app serving ``model``. With a ``token``, the feedback endpoints require it as a bearer
    token; with ``allowed_hosts``, requests for any other Host header are refused (which stops
    DNS-rebinding pages from reaching a loopback server)."""
    app = FastAPI(title="Narrative tactics", version=model.version,
                  description="Tag media snippets with the narrative tactics they advance, and "
                              "store analysts' corrections.")
    if allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    _add_error_handlers(app)
    store = FeedbackStore(db_path)
    app.include_router(_api(model, store, token=token, max_chars=max_chars, max_batch=max_batch))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html",
                            headers={"Content-Security-Policy": PAGE_CSP})

    return app


def _api(model: TacticModel, store: FeedbackStore, *, token: str | None, max_chars: int,
         max_batch: int) -> APIRouter:
    router = APIRouter()
    authorized = _bearer_check(token)
    # Prediction is CPU-bound: one thread per core runs it and other requests queue in order,
    # which keeps the tail latency far lower than letting 40 threads fight over the GIL.
    lane = anyio.CapacityLimiter(os.cpu_count() or 1)
    taxonomy = load_taxonomy().to_dict()
    settings = {"model": model.version, "max_chars": max_chars, "max_batch": max_batch,
                "feedback_requires_token": token is not None}

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
        _check_limits([item.text for item in items], max_chars, max_batch)
        rows = [_row(n, item) for n, item in enumerate(items, start=1)]
        results = await anyio.to_thread.run_sync(_classify, model, rows, request.evidence,
                                                 limiter=lane)
        return {"results": results}

    @router.post("/v1/feedback", status_code=201, dependencies=[Depends(authorized)],
                 summary="Store an analyst's corrected tactic set for a text")
    def feedback(request: FeedbackRequest) -> dict:
        _check_limits([request.text], max_chars, max_batch)
        [predicted] = model.predict([check_text(request.text)], evidence=False)
        correction = store.add(request.text, request.labels, predicted=predicted.labels,
                               model_version=model.version, note=request.note,
                               analyst=request.analyst)
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


def _classify(model: TacticModel, rows: list[Row], evidence: bool) -> list[dict]:
    return list(classify_rows(model, rows, evidence=evidence))


def _check_limits(texts: list[str], max_chars: int, max_batch: int) -> None:
    if len(texts) > max_batch:
        _too_large(f"the batch holds {len(texts)} texts; the limit is {max_batch} per request",
                   max_batch)
    for i, text in enumerate(texts):
        if len(text) > max_chars:
            _too_large(f"text #{i} is {len(text)} characters long; the limit is {max_chars}",
                       max_chars)


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


def _add_error_handlers(app: FastAPI) -> None:
    """Every error answers ``{"error": "<one readable line>"}`` (plus ``limit`` for a 413)."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        body = exc.detail if isinstance(exc.detail, dict) else {"error": exc.detail}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
                    for error in exc.errors()]
        return JSONResponse({"error": "invalid request: " + "; ".join(problems)}, status_code=422)

    @app.exception_handler(TacticsError)
    async def project_error(request: Request, exc: TacticsError) -> JSONResponse:
        status = 422 if isinstance(exc, (InputError, TaxonomyError)) else 500
        return JSONResponse({"error": str(exc)}, status_code=status)
