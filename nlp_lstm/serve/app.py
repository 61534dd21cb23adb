"""The HTTP app: /predict through the dynamic batcher, /health, /ready, /model, /metrics, OpenAPI docs at /docs."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError
from starlette.exceptions import HTTPException

from .._version import __version__
from ..config import ServeConfig
from ..evaluation.model_card import training_metrics
from ..model_dir import inference_device, load_model_dir, local_model_dir, model_format, read_json
from ..predictor import prediction_row
from ..tasks import get_task
from .batching import BatchStats, DynamicBatcher, QueueFull


class PredictRequest(BaseModel):
    """Texts to label (classifier or tagger), or sentences as token lists (tagger)."""

    model_config = ConfigDict(extra="forbid")
    texts: list[StrictStr] | None = Field(None, description="raw texts; a tagger splits them as `predict` does")
    tokens: list[list[StrictStr]] | None = Field(None, description="a tagger's sentences, each a list of tokens")
    top_k: int = Field(1, ge=1, description="a classifier also lists the K most probable labels")
    threshold: float = Field(0.0, ge=0.0, le=1.0, description="a classifier abstains (label null) below it")


class LabelPrediction(BaseModel):
    text: str
    label: str | None
    probability: float
    top_k: list[tuple[str, float]]
    probabilities: dict[str, float]


class Entity(BaseModel):
    type: str
    start: int
    end: int
    text: str


class TagsPrediction(BaseModel):
    tokens: list[str]
    tags: list[str]
    entities: list[Entity]


class PredictResponse(BaseModel):
    predictions: list[LabelPrediction] | list[TagsPrediction]


class ErrorDetail(BaseModel):
    kind: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


class RequestProblem(Exception):
    """A request the server will not run, answered with `status` and a JSON error naming the field."""

    def __init__(self, status: int, kind: str, message: str, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.kind, self.message, self.field, self.headers = status, kind, message, field, headers


ROUTES = ("/predict", "/health", "/ready", "/model", "/metrics", "/docs", "/openapi.json")


class ServerMetrics:
    """The server's Prometheus metrics, in a registry of its own (the global one is left alone)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("nlp_lstm_requests", "HTTP requests answered, by endpoint and status code",
                                ["endpoint", "status"], registry=r)
        self.errors = Counter("nlp_lstm_errors", "Requests answered with an error, by kind", ["kind"], registry=r)
        self.latency = Histogram("nlp_lstm_request_seconds", "Time from a request's arrival to its answer",
                                 ["endpoint"], registry=r,
                                 buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
        self.batch_texts = Histogram("nlp_lstm_batch_texts", "Texts per model call", registry=r,
                                     buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024))
        self.batch_requests = Histogram("nlp_lstm_batch_requests", "Requests per model call", registry=r,
                                        buckets=(1, 2, 4, 8, 16, 32, 64, 128))
        self.queue_wait = Histogram("nlp_lstm_queue_wait_seconds", "Time a request waited for its batch to start",
                                    registry=r, buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1))
        self.batch_seconds = Histogram("nlp_lstm_batch_seconds", "Model time per batch", registry=r,
                                       buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5))
        self.queued = Gauge("nlp_lstm_queued_texts", "Texts waiting for a batch", registry=r)

    def observe_batch(self, stats: BatchStats) -> None:
        self.batch_texts.observe(stats.items)
        self.batch_requests.observe(stats.requests)
        self.batch_seconds.observe(stats.seconds)
        for wait in stats.waits:
            self.queue_wait.observe(wait)


def error_response(problem: RequestProblem) -> JSONResponse:
    return JSONResponse({"error": {"kind": problem.kind, "message": problem.message, "field": problem.field}},
                        problem.status, headers=problem.headers)


class RequestGuard:
    """ASGI middleware: bounds the request body (413), rejects a body that is not UTF-8 (400), and counts each
    request and its latency."""

    def __init__(self, app: Callable[..., Awaitable[None]], metrics: ServerMetrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        endpoint = scope["path"] if scope["path"] in ROUTES else "other"
        status = 500

        async def counted_send(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            body = await self._read_body(scope, receive)
            if body is None:
                return  # the client went away
            if isinstance(body, RequestProblem):
                self.metrics.errors.labels(body.kind).inc()
                await error_response(body)(scope, receive, counted_send)
                return
            delivered = False

            async def replay() -> dict:
                nonlocal delivered
                if not delivered:
                    delivered = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            await self.app(scope, replay, counted_send)
        finally:
            self.metrics.requests.labels(endpoint, str(status)).inc()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - started)

    async def _read_body(self, scope: dict, receive: Callable) -> bytes | RequestProblem | None:
        """The whole body, or the problem with it; None when the client disconnected."""
        limit = self.max_body_bytes
        too_large = RequestProblem(413, "body_too_large", f"the request body is larger than {limit:,} bytes "
                                                          f"(--max-body-bytes)", "body")
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return too_large
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as err:
            return RequestProblem(400, "invalid_encoding", f"the request body is not UTF-8: byte {err.start} "
                                                           f"({body[err.start:err.start + 1]!r}) {err.reason}", "body")
        return body


def _field(loc: tuple) -> str:
    """A pydantic error location as a field path: ("body", "texts", 3) -> texts[3]."""
    parts = [p for p in loc if p != "body"]
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def _validation_problem(errors: list[dict[str, Any]]) -> RequestProblem:
    """A 422 naming the first field pydantic rejected (FastAPI's or pydantic's own validation errors)."""
    first = errors[0]
    if first.get("type") == "json_invalid":
        reason = (first.get("ctx") or {}).get("error", first.get("msg", "invalid JSON"))
        return RequestProblem(422, "invalid_json", f"the request body is not valid JSON: {reason}", "body")
    field = _field(tuple(first.get("loc", ())))
    more = len(errors) - 1
    return RequestProblem(422, "invalid_field", f"{field}: {first.get('msg')}"
                                                + (f" (and {more} more problems)" if more else ""), field)


def parse_request(body: bytes) -> PredictRequest:
    """The JSON body of POST /predict, whatever its Content-Type says (curl -d sends a form's)."""
    if not body.strip():
        raise RequestProblem(422, "invalid_json", 'the request body is empty; send JSON such as {"texts": ["..."]}',
                             "body")
    try:
        return PredictRequest.model_validate_json(body)
    except ValidationError as err:
        raise _validation_problem(err.errors()) from None


class ModelService:
    """The loaded model, its predictor, and the checks a request passes before it reaches the batcher."""

    def __init__(self, model_dir: str | Path, config: ServeConfig) -> None:
        self.model_dir = local_model_dir(model_dir)
        self.config = config
        device = inference_device(self.model_dir, config.device)
        self.saved = load_model_dir(self.model_dir, device)
        self.task = self.saved.task
        self.predictor = get_task(self.task).predictor(self.saved, device)
        self.format = model_format(self.model_dir)
        self.predictor.predict(["warm up"])  # the first call allocates; no request should pay for it

    def items(self, request: PredictRequest) -> list[str] | list[list[str]]:
        """The texts or token lists of a valid request; a RequestProblem names the first field that is not."""
        given = [name for name in ("texts", "tokens") if getattr(request, name) is not None]
        if len(given) != 1:
            raise RequestProblem(422, "invalid_field", 'give exactly one of "texts" (a list of strings) and '
                                                       '"tokens" (a tagger\'s sentences as lists of strings)',
                                 "texts")
        name = given[0]
        if name == "tokens" and self.task != "tagging":
            raise RequestProblem(422, "invalid_field", 'this model is a classifier: send "texts"', "tokens")
        if self.task == "tagging" and (request.top_k != 1 or request.threshold != 0):
            field = "top_k" if request.top_k != 1 else "threshold"
            raise RequestProblem(422, "invalid_field", f"{field} chooses among a classifier's labels; this model "
                                                       f"is a tagger", field)
        items = getattr(request, name)
        if not items:
            raise RequestProblem(422, "invalid_field", f"{name}: give at least one", name)
        if len(items) > self.config.max_texts:
            raise RequestProblem(422, "invalid_field", f"{name}: {len(items)} items, at most {self.config.max_texts} "
                                                       f"per request (--max-texts)", name)
        limit = self.config.max_text_length
        for i, item in enumerate(items):
            length = len(item) if isinstance(item, str) else sum(len(token) for token in item)
            if length > limit:
                raise RequestProblem(422, "invalid_field", f"{name}[{i}]: {length:,} characters, at most {limit:,} "
                                                           f"(--max-text-length)", f"{name}[{i}]")
            if not isinstance(item, str):
                for j, token in enumerate(item):
                    if not token or any(c.isspace() for c in token):
                        raise RequestProblem(422, "invalid_field", f"tokens[{i}][{j}]: {token!r} is not a token "
                                                                   f"(empty, or holds whitespace)", f"tokens[{i}][{j}]")
        return items

    def description(self) -> dict[str, Any]:
        """What GET /model answers: task, labels, format, config.json and the run's metrics where they are."""
        config = read_json(self.model_dir / "config.json")
        return {"model_dir": str(self.model_dir.resolve()), "task": self.task, "format": self.format,
                "labels": self.saved.labels, "config": config, "metrics": training_metrics(self.model_dir, config)}


def create_app(model_dir: str | Path, config: ServeConfig | None = None) -> FastAPI:
    """The server's ASGI app for the model in `model_dir` (loaded now; a ModelDirError if it cannot be)."""
    config = config or ServeConfig()
    service = ModelService(model_dir, config)
    metrics = ServerMetrics()
    batcher = DynamicBatcher(service.predictor.predict, config.max_batch_size, config.max_wait_ms, config.max_queue,
                             metrics.observe_batch)
    metrics.queued.set_function(lambda: batcher.waiting)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher.start()
        app.state.ready = True
        yield
        app.state.ready = False
        await batcher.stop()

    app = FastAPI(title="nlp-lstm", version=__version__, lifespan=lifespan,
                  description=f"A {service.task} model from {model_dir}")
    app.state.ready = False
    app.state.batcher = batcher
    problems = {422: {"model": ErrorResponse}, 413: {"model": ErrorResponse}, 503: {"model": ErrorResponse}}

    @app.exception_handler(RequestProblem)
    async def problem_handler(request: Request, problem: RequestProblem) -> JSONResponse:
        metrics.errors.labels(problem.kind).inc()
        return error_response(problem)

    @app.exception_handler(RequestValidationError)
    async def validation_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
        return await problem_handler(request, _validation_problem(list(exc.errors())))

    @app.exception_handler(HTTPException)
    async def http_handler(request: Request, exc: HTTPException) -> JSONResponse:
        kinds = {404: "not_found", 405: "method_not_allowed"}
        message = {404: f"no endpoint {request.url.path}; see /docs",
                   405: f"{request.method} is not allowed on {request.url.path}"}.get(exc.status_code, str(exc.detail))
        return await problem_handler(request, RequestProblem(exc.status_code, kinds.get(exc.status_code, "http"),
                                                             message, None, getattr(exc, "headers", None)))

    @app.exception_handler(Exception)
    async def internal_handler(request: Request, exc: Exception) -> JSONResponse:
        return await problem_handler(request, RequestProblem(500, "internal", f"{type(exc).__name__}: {exc}"))

    body_schema = {"required": True, "content": {"application/json": {"schema": PredictRequest.model_json_schema()}}}

    @app.post("/predict", response_model=PredictResponse, responses=problems,
              openapi_extra={"requestBody": body_schema})
    async def predict(http: Request) -> JSONResponse:
        """Labels (classifier) or tags and entities (tagger) of each text, in input order."""
        request = parse_request(await http.body())
        items = service.items(request)
        try:
            predictions = await batcher.submit(items)
        except QueueFull as err:
            raise RequestProblem(503, "overloaded", f"the server is busy: {err}; retry shortly",
                                 headers={"Retry-After": "1"}) from None
        return JSONResponse({"predictions": [prediction_row(p, request.top_k, request.threshold)
                                             for p in predictions]})

    @app.get("/health")
    async def health() -> dict[str, str]:
        """The server is alive (answers while a batch runs)."""
        return {"status": "ok"}

    @app.get("/ready", responses={503: {"model": ErrorResponse}})
    async def ready() -> dict[str, Any]:
        """The model is loaded and the server takes requests (503 while it starts or stops)."""
        if not app.state.ready:
            raise RequestProblem(503, "not_ready", "the server is starting or shutting down",
                                 headers={"Retry-After": "1"})
        return {"ready": True, "task": service.task, "queued_texts": batcher.waiting}

    @app.get("/model")
    async def model() -> dict[str, Any]:
        """The model: task, labels, format, its config.json and the metrics of the run that trained it."""
        return service.description()

    @app.get("/metrics")
    async def prometheus() -> Response:
        """Prometheus metrics: requests, errors by kind, batch sizes, queue wait, latency."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(RequestGuard, metrics=metrics, max_body_bytes=config.max_body_bytes)
    return app
