"""The FastAPI application of ``totalseg serve``: jobs in, results out, Bearer-token authentication,
an upload size limit enforced while the body streams, one-line JSON errors, ``/health``, ``/metrics``."""


import hmac
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from totalseg.errors import InputError, TotalsegError
from totalseg.serve.jobs import STATUSES, JobStore
from totalseg.serve.options import check_input_kind, parse_options
from totalseg.serve.uploads import check_upload, stored_name
from totalseg.serve.worker import WorkerPool
from totalseg.settings import Settings

_JOB_ID = re.compile(r"[0-9a-f]{32}")
# The content type of a result file by its ending (NIfTI and anything else: octet-stream).
_MEDIA_TYPES = {".json": "application/json", ".zip": "application/zip", ".png": "image/png",
                ".dcm": "application/dicom", "": "application/octet-stream"}
_CHUNK = 1 << 20


class _TooLarge(Exception):
    """An upload passed the size limit while it streamed in."""


def _fastapi():
    try:
        import fastapi
    except ImportError:
        raise ImportError("the HTTP API needs: pip install 'totalseg[serve]'") from None
    return fastapi


def create_app(settings: Settings, data_dir: str | Path, *, token: str | None, n_workers: int = 1,
               max_upload_mb: float = 2048, device: str = "cpu", start_workers: bool = True) -> Any:
    """The API as a FastAPI app; the worker threads run while the app does (its lifespan).

    Args:
        settings: where the weights are.
        data_dir: the job store's folder (``<data_dir>/jobs/<id>/``).
        token: the Bearer token every endpoint but ``/health`` requires; ``None``: no authentication
            (the command allows that only on the loopback interface).
        n_workers: worker threads, each taking one job at a time.
        max_upload_mb: the largest request body, and the largest a DICOM zip may expand to.
        device: where the models run (``cpu``, ``gpu``, ``gpu:N``).
        start_workers: ``False`` stores jobs without running them (API checks).

    Examples:
        >>> app = create_app(Settings.from_env(), "serve-data", token="s3cret")  # doctest: +SKIP
        >>> import uvicorn; uvicorn.run(app, host="127.0.0.1", port=8000)  # doctest: +SKIP
    """
    fastapi = _fastapi()
    store = JobStore(data_dir)
    pool = WorkerPool(store, settings=settings, n_workers=n_workers, device=device)

    @asynccontextmanager
    async def lifespan(_app) -> AsyncIterator[None]:
        if start_workers:
            pool.start()
        yield
        if start_workers:
            pool.stop()

    app = fastapi.FastAPI(title="totalseg", summary="Whole-body CT/MR segmentation jobs", lifespan=lifespan)
    app.state.store = store
    _add_error_handlers(app)
    auth = fastapi.Depends(_bearer_check(token))
    metrics = _Metrics(store)
    _add_job_routes(app, store, auth=auth, max_bytes=int(max_upload_mb * 1024 * 1024), metrics=metrics)
    _add_service_routes(app, auth=auth, metrics=metrics)
    return app


class _Metrics:
    """Prometheus series of one app: jobs in the store by status (read at each scrape), jobs accepted
    and uploads refused since the server started."""

    def __init__(self, store: JobStore):
        from prometheus_client import CollectorRegistry, Counter, Gauge

        self.store = store
        self.registry = CollectorRegistry()
        self.jobs = Gauge("totalseg_jobs", "Jobs in the store by status", ["status"], registry=self.registry)
        self.accepted = Counter("totalseg_jobs_accepted", "Jobs accepted by POST /jobs", registry=self.registry)
        self.refused = Counter("totalseg_uploads_refused", "POST /jobs requests answered with a 4xx",
                               registry=self.registry)

    def text(self) -> str:
        from prometheus_client import generate_latest

        for status, n in self.store.counts().items():
            self.jobs.labels(status=status).set(n)
        return generate_latest(self.registry).decode()


def _bearer_check(token: str | None):
    fastapi = _fastapi()

    def check(authorization: str | None = fastapi.Header(default=None, include_in_schema=False)) -> None:
        if token is None:
            return
        scheme, _, given = (authorization or "").partition(" ")
        if scheme != "Bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise fastapi.HTTPException(401, "missing or wrong token; send 'Authorization: Bearer <token>'",
                                        headers={"WWW-Authenticate": "Bearer"})
    return check


def _add_error_handlers(app) -> None:
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return JSONResponse({"detail": f"{where}: {first.get('msg', 'invalid request')}"}, status_code=422)

    @app.exception_handler(TotalsegError)
    async def _input(_request, exc: TotalsegError) -> JSONResponse:
        return JSONResponse({"detail": str(exc).splitlines()[0]}, status_code=400)


def _job_or_404(store: JobStore, job_id: str):
    job = store.get(job_id) if _JOB_ID.fullmatch(job_id) else None
    if job is None:
        raise _fastapi().HTTPException(404, f"no job {job_id!r}; POST /jobs returns the id")
    return job


def _add_job_routes(app, store: JobStore, *, auth, max_bytes: int, metrics: _Metrics) -> None:
    fastapi = _fastapi()
    from fastapi.responses import FileResponse

    @app.post("/jobs", status_code=201, dependencies=[auth],
              openapi_extra={"requestBody": _upload_schema()})
    async def submit(request: fastapi.Request) -> dict[str, str]:
        """Upload an image (``file``) with segmentation options as form fields; returns the job id."""
        declared = int(request.headers.get("content-length") or 0)
        if declared > max_bytes:
            raise fastapi.HTTPException(413, f"upload of {declared} bytes is over the limit of {max_bytes} bytes")
        job_id = store.new_folder()
        try:
            name, options, client_name = await _receive(request, store.folder(job_id) / "input", max_bytes=max_bytes)
            image = check_upload(store.folder(job_id) / "input" / name, max_bytes=max_bytes)
            check_input_kind(options, image.name)
        except BaseException:
            store.delete(job_id)
            metrics.refused.inc()
            raise
        store.submit(job_id, options=options, input_name=image.name, meta={"name": client_name})
        metrics.accepted.inc()
        return {"id": job_id}

    @app.get("/jobs/{job_id}", dependencies=[auth])
    def status(job_id: str) -> dict[str, Any]:
        """Status (queued, running, done, failed), progress (0-1) and the error of a failed job."""
        return _job_or_404(store, job_id).public()

    @app.get("/jobs/{job_id}/files", dependencies=[auth])
    def files(job_id: str) -> list[str]:
        """Names of the result files (empty until the job is done)."""
        return store.files(_job_or_404(store, job_id).id)

    @app.get("/jobs/{job_id}/files/{name}", dependencies=[auth], response_class=FileResponse, response_model=None,
             responses={200: {"content": {media_type: {} for media_type in sorted(set(_MEDIA_TYPES.values()))}}})
    def result(job_id: str, name: str):
        """One result file, e.g. ``segmentation.nii.gz`` (the multilabel segmentation)."""
        job = _job_or_404(store, job_id)
        if name not in store.files(job.id):
            raise fastapi.HTTPException(404, f"job {job_id} has no file {name!r}; GET /jobs/{job_id}/files lists them")
        media_type = _MEDIA_TYPES.get(Path(name).suffix, _MEDIA_TYPES[""])
        return FileResponse(store.folder(job.id) / "outputs" / name, filename=name, media_type=media_type)

    @app.delete("/jobs/{job_id}", status_code=204, dependencies=[auth])
    def delete(job_id: str) -> None:
        """Remove a job and its files (a running job's worker finishes into nothing)."""
        store.delete(_job_or_404(store, job_id).id)


async def _receive(request, input_dir: Path, *, max_bytes: int) -> tuple[str, dict[str, Any], str]:
    """Parse the multipart body with the byte count checked as it streams; store the ``file`` part.
    Returns the stored name, the options and the client's file name for display (never a path)."""
    fastapi = _fastapi()
    received = 0
    upstream = request.receive

    async def counted():
        nonlocal received
        message = await upstream()
        received += len(message.get("body", b""))
        if received > max_bytes:
            raise _TooLarge
        return message

    try:
        form = await fastapi.Request(request.scope, counted).form(max_files=1, max_fields=32)
    except _TooLarge:
        raise fastapi.HTTPException(413, f"upload over the limit of {max_bytes} bytes") from None
    except Exception as exc:  # starlette raises several types for a malformed body
        reason = str(getattr(exc, "detail", "") or type(exc).__name__).rstrip(".")
        raise fastapi.HTTPException(400, f"malformed multipart body ({reason}); "
                                         "send multipart/form-data with one 'file' field") from None
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise InputError("no 'file' field; send the image as multipart form field 'file'")
    fields = {k: v for k, v in form.multi_items() if k != "file"}
    if any(not isinstance(v, str) for v in fields.values()):
        raise InputError("only one file per job, in the 'file' field")
    options = parse_options(fields)
    name = stored_name(upload.filename)
    with open(input_dir / name, "xb") as out:
        shutil.copyfileobj(upload.file, out, _CHUNK)
    shown = re.sub(r"[\x00-\x1f\x7f]", "", (upload.filename or "").replace("\\", "/").rsplit("/", 1)[-1])
    return name, options, shown[:200]


def _upload_schema() -> dict[str, Any]:
    from totalseg.serve.options import FIELDS

    props: dict[str, Any] = {"file": {"type": "string", "format": "binary"}}
    props.update({f: {"type": "string"} if f in ("task", "roi_subset", "output_type") else {"type": "boolean"}
                  for f in FIELDS})
    return {"required": True, "content": {"multipart/form-data": {
        "schema": {"type": "object", "required": ["file"], "properties": props}}}}


def _add_service_routes(app, *, auth, metrics: _Metrics) -> None:
    from fastapi.responses import PlainTextResponse

    @app.get("/health")
    def health() -> dict[str, str]:
        """Liveness, without a token."""
        return {"status": "ok"}

    @app.get("/metrics", dependencies=[auth], response_class=PlainTextResponse)
    def metrics_text():
        """Prometheus text: jobs per status, jobs accepted, uploads refused."""
        return PlainTextResponse(metrics.text(), media_type="text/plain; version=0.0.4")


__all__ = ["STATUSES", "create_app"]
