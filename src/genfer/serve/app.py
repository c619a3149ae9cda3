"""The HTTP API and web page of ``genfer serve`` (FastAPI).

    GET  /            the web page (static files under /static, served from the package)
    GET  /health      200 {"status": "ok", "tasks", "models"} once the models are loaded (503 before)
    GET  /models      ``genfer models --json``
    POST /recognize   multipart ``image``           -> one ``genfer recognize --json`` result
    POST /explain     multipart ``image``           -> one ``genfer explain --json`` result (saliency overlays inline)
    POST /neutralize  multipart ``image``           -> one ``genfer neutralize --json`` result (poker faces inline)
    POST /invert      multipart ``image``           -> one ``genfer invert --json`` result (images, latent inline)
    POST /transfer    multipart ``source``, ``reference`` -> one ``genfer transfer --json`` result (images inline)
    POST /edit        multipart ``image``, ``emotion``, ``strength``[, ``sweep``]
                      -> one ``genfer edit --emotion E --strength S [--sweep] --json`` result (images, latents inline);
                         404 unless the server was started with ``--directions DIR``
    GET  /openapi.json, /docs   the OpenAPI description

Rejected uploads answer ``{"error": message}``: 413 over the size or pixel limit, 415 for a file that is not an
image, 400 for an image that does not decode (messages as the CLI prints them), a missing field or a bad form value
(``/edit``: an emotion the directions do not have, a strength that is not a finite number); a task the server does
not serve answers 404. The models are loaded once (:class:`~genfer.serve.services.Services`) and every request's
decoding and network work runs in a worker thread, so the event loop (and ``/health``) stays responsive while
requests compute.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from functools import partial
from importlib import resources
from typing import Any, AsyncIterator, Callable

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from genfer.serve.limits import UploadLimit
from genfer.serve.services import Services
from genfer.serve.uploads import UploadError, decode_upload

__all__ = ["DEFAULT_MAX_PIXELS", "DEFAULT_MAX_UPLOAD_BYTES", "create_app"]

DEFAULT_MAX_UPLOAD_BYTES = 20 * 2**20
"""Largest request body (bytes) by default: 20 MiB."""

DEFAULT_MAX_PIXELS = 50_000_000
"""Largest image (width x height) decoded by default."""

STATIC = resources.files("genfer.serve") / "static"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(services: Services, *, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
               max_pixels: int = DEFAULT_MAX_PIXELS) -> FastAPI:
    """The FastAPI application over ``services`` (loaded at startup, in a worker thread, if not loaded yet)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not services.loaded:
            await run_in_threadpool(services.load)
        yield

    app = FastAPI(title="genfer", version=_version(), lifespan=lifespan,
                  description="Facial expression recognition and its explanation, poker faces, inversion, "
                              "expression transfer and latent expression editing. "
                              "Each response is the matching `genfer COMMAND --json` result, generated files "
                              "inline as data: URIs.")
    app.add_middleware(UploadLimit, max_bytes=max_upload_bytes)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.exception_handler(UploadError)
    async def upload_error(_: Request, exc: UploadError) -> JSONResponse:
        return _error(exc.status, exc.message)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        missing = [str(e["loc"][-1]) for e in exc.errors() if e.get("type") == "missing"]
        first = exc.errors()[0]
        text = (f"missing multipart field(s): {', '.join(missing)}" if missing
                else f"bad request: {first['loc'][-1]}: {first.get('msg', 'invalid input')}")
        return _error(400, text)

    @app.exception_handler(LookupError)
    async def not_served(_: Request, exc: LookupError) -> JSONResponse:
        return _error(404, str(exc))

    async def read(upload: UploadFile) -> tuple[bytes, str]:
        return await upload.read(), upload.filename or "upload"

    def check_loaded() -> None:
        if not services.loaded:
            raise UploadError(503, "the models are still loading; try again (GET /health)")

    async def run_task(fn: Callable[..., dict[str, Any]], upload: UploadFile) -> dict[str, Any]:
        check_loaded()
        data, name = await read(upload)
        image = await run_in_threadpool(decode_upload, data, name, max_pixels=max_pixels)
        return await run_in_threadpool(fn, image, name)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"))

    @app.get("/health", summary="200 once the models are loaded (503 before)")
    async def health() -> JSONResponse:
        doc = services.health()
        return JSONResponse(doc, status_code=200 if services.loaded else 503)

    @app.get("/models", summary="the shipped models (genfer models --json)")
    async def models() -> dict[str, Any]:
        return await run_in_threadpool(services.models_document)

    @app.post("/recognize", summary="faces, labels and probabilities (one genfer recognize --json result)")
    async def recognize(image: UploadFile = File(..., description="a photo")) -> dict[str, Any]:
        return await run_task(services.recognize, image)

    @app.post("/explain", summary="where the recognizer looked: saliency overlays per face (one genfer explain --json "
                                   "result, overlays inline)")
    async def explain(image: UploadFile = File(..., description="a photo")) -> dict[str, Any]:
        return await run_task(services.explain, image)

    @app.post("/neutralize", summary="poker faces (one genfer neutralize --json result, PNGs inline)")
    async def neutralize(image: UploadFile = File(..., description="a photo")) -> dict[str, Any]:
        return await run_task(services.neutralize, image)

    @app.post("/invert", summary="inversion into the generator (one genfer invert --json result, files inline)")
    async def invert(image: UploadFile = File(..., description="a photo")) -> dict[str, Any]:
        return await run_task(services.invert, image)

    @app.post("/transfer", summary="exchange two faces' expressions (one genfer transfer --json result)")
    async def transfer(source: UploadFile = File(..., description="the face that takes the reference's expression"),
                       reference: UploadFile = File(..., description="the face whose expression is taken"),
                       ) -> dict[str, Any]:
        check_loaded()
        uploads = [await read(source), await read(reference)]
        for data, name in uploads:  # reject bad uploads with the same answers as the other tasks
            await run_in_threadpool(decode_upload, data, name, max_pixels=max_pixels)
        return await run_in_threadpool(services.transfer, *uploads)

    @app.post("/edit", summary="move each face along an emotion direction (one genfer edit --json result, files "
                               "inline; 404 without --directions)")
    async def edit(image: UploadFile = File(..., description="a photo"),
                   emotion: str = Form(..., description="the direction to move along, one of the directions' emotions"),
                   strength: float = Form(..., description="K of C + K·d (w units; negative moves away)"),
                   sweep: bool = Form(False, description="also the strip of edits from 0 to K (genfer edit --sweep)"),
                   ) -> dict[str, Any]:
        check_loaded()
        services.check_edit(emotion, strength)  # 404 / 400 before the upload is decoded
        return await run_task(partial(services.edit, emotion=emotion, strength=strength, sweep=sweep), image)

    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("genfer")
    except PackageNotFoundError:
        return "unknown"
