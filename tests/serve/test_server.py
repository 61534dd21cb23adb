"""`nlp-lstm serve` as users run it: a real uvicorn process on a free localhost port, spoken to over HTTP with
httpx. Each endpoint; predictions equal to the in-process predictor's; every class of bad request a 4xx that
names the field, the server alive after them; concurrent requests batched together (seen in /metrics); a full
queue a 503 with Retry-After; a tagger and an ONNX export served; SIGTERM under load answers every accepted
request and exits 0."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import assert_error

from nlp_lstm.data.sources import load_texts
from nlp_lstm.predictor import Predictor, TagPredictor, prediction_row

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
LIMITS = ["--max-texts", "8", "--max-text-length", "2000", "--max-body-bytes", "20000"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A `nlp-lstm serve` process; `url` is its base address."""

    def __init__(self, model_dir: Path, *options: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nlp_lstm", "serve", str(model_dir), "--port", str(self.port), *options],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        deadline = time.monotonic() + 120
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited with {self.process.returncode}:\n{self.process.stdout.read()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/ready", timeout=2).status_code == 200:
                    return
            if time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError("the server did not become ready in 120 s")
            time.sleep(0.2)

    def stop(self, terminate: bool = True) -> tuple[int, str]:
        """SIGTERM (unless `terminate` is False: it was sent already); the exit status and everything the server
        printed."""
        if terminate and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            output, _ = self.process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
        return self.process.returncode, output


@contextlib.contextmanager
def serving(model_dir: Path, *options: str) -> Iterator[Server]:
    server = Server(model_dir, *options)
    try:
        yield server
    finally:
        code, output = server.stop()
        assert code == 0, output
        assert "Traceback" not in output, output


def metric(text: str, name: str) -> float:
    """The value of one sample (name with its labels, as Prometheus prints it) in /metrics; 0 when absent."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture(scope="module")
def server(classifier_dir: Path) -> Iterator[Server]:
    with serving(classifier_dir, *LIMITS, "--max-wait-ms", "20") as running:
        yield running


@pytest.fixture(scope="module")
def texts(sst2_dir: Path) -> list[str]:
    return list(load_texts(f"tsv:{sst2_dir / 'dev.tsv'}", "sentence", "label").texts[:40])


def test_health_ready_docs_and_openapi(server: Server) -> None:
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}
    ready = httpx.get(f"{server.url}/ready").json()
    assert ready["ready"] is True and ready["task"] == "classification"
    assert "swagger" in httpx.get(f"{server.url}/docs").text.lower()
    schema = httpx.get(f"{server.url}/openapi.json").json()
    body = schema["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"texts", "tokens", "top_k", "threshold"} <= set(body["properties"])


def test_model_describes_the_model_and_the_metrics_it_was_trained_to(server: Server, classifier_dir: Path) -> None:
    described = httpx.get(f"{server.url}/model").json()
    assert described["task"] == "classification" and described["format"] == "pytorch"
    assert described["labels"] == json.loads((classifier_dir / "labels.json").read_text(encoding="utf-8"))
    assert described["config"] == json.loads((classifier_dir / "config.json").read_text(encoding="utf-8"))
    assert described["metrics"] == json.loads((classifier_dir.parent / "metrics.json").read_text(encoding="utf-8"))


def test_predict_gives_the_predictors_rows_in_input_order(server: Server, classifier_dir: Path,
                                                          texts: list[str]) -> None:
    expected = [prediction_row(p, 2, 0.6) for p in Predictor.load(classifier_dir, "cpu").predict(texts[:8])]
    response = httpx.post(f"{server.url}/predict", json={"texts": texts[:8], "top_k": 2, "threshold": 0.6})
    assert response.status_code == 200, response.text
    got = response.json()["predictions"]
    assert [row["text"] for row in got] == texts[:8]
    assert [row["label"] for row in got] == [row["label"] for row in expected]
    for row, want in zip(got, expected):
        assert row["probabilities"] == pytest.approx(want["probabilities"], abs=2e-6)
        assert [name for name, _ in row["top_k"]] == [name for name, _ in want["top_k"]]


def test_chinese_and_empty_texts_are_answered(server: Server) -> None:
    response = httpx.post(f"{server.url}/predict", json={"texts": ["这部电影很好看", "", "  "]})
    assert response.status_code == 200
    assert [row["text"] for row in response.json()["predictions"]] == ["这部电影很好看", "", "  "]


BAD_REQUESTS = [
    # (body as bytes, status, error kind, field, a fragment of the message)
    (b'{"texts": [', 422, "invalid_json", "body", "not valid JSON"),
    (b"", 422, "invalid_json", "body", "empty"),
    (b'["a", "b"]', 422, "invalid_field", "body", "object"),
    (b'{"texts": "one string"}', 422, "invalid_field", "texts", "array"),
    (b'{"texts": ["ok", 7]}', 422, "invalid_field", "texts[1]", "string"),
    (b'{"texts": []}', 422, "invalid_field", "texts", "at least one"),
    (b'{"txts": ["a"]}', 422, "invalid_field", "txts", "not permitted"),
    (b'{}', 422, "invalid_field", "texts", "exactly one"),
    (b'{"texts": ["a"], "tokens": [["a"]]}', 422, "invalid_field", "texts", "exactly one"),
    (b'{"tokens": [["a"]]}', 422, "invalid_field", "tokens", "classifier"),
    (b'{"texts": ["a"], "top_k": 0}', 422, "invalid_field", "top_k", "greater than or equal to 1"),
    (b'{"texts": ["a"], "threshold": 2}', 422, "invalid_field", "threshold", "less than or equal to 1"),
    (json.dumps({"texts": ["a"] * 9}).encode(), 422, "invalid_field", "texts", "at most 8"),
    (json.dumps({"texts": ["ok", "x" * 2001]}).encode(), 422, "invalid_field", "texts[1]", "at most 2,000"),
    ('{"texts": ["caf\u00e9"]}'.encode("latin-1"), 400, "invalid_encoding", "body", "not UTF-8"),
    (json.dumps({"texts": ["x" * 25000]}).encode(), 413, "body_too_large", "body", "20,000 bytes"),
]


@pytest.mark.parametrize(("body", "status", "kind", "field", "fragment"), BAD_REQUESTS,
                         ids=[f"{kind}-{field}-{i}" for i, (_, _, kind, field, _) in enumerate(BAD_REQUESTS)])
def test_a_bad_request_is_a_4xx_naming_the_field(server: Server, body: bytes, status: int, kind: str, field: str,
                                                 fragment: str) -> None:
    response = httpx.post(f"{server.url}/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text[:300]
    error = response.json()["error"]
    assert (error["kind"], error["field"]) == (kind, field), error
    assert fragment in error["message"], error
    assert httpx.get(f"{server.url}/health").status_code == 200


def test_a_body_larger_than_the_limit_without_content_length_is_a_413(server: Server) -> None:
    def chunks() -> Iterator[bytes]:  # chunked transfer: no Content-Length to refuse it by
        yield b'{"texts": ["'
        for _ in range(30):
            yield b"x" * 1000
        yield b'"]}'

    response = httpx.post(f"{server.url}/predict", content=chunks())
    assert response.status_code == 413 and response.json()["error"]["kind"] == "body_too_large"


def test_form_encoded_json_from_curl_is_read_as_json(server: Server) -> None:
    response = httpx.post(f"{server.url}/predict", content=b'{"texts": ["fine"]}',
                          headers={"content-type": "application/x-www-form-urlencoded"})  # what curl -d sends
    assert response.status_code == 200 and response.json()["predictions"][0]["text"] == "fine"


def test_unknown_endpoints_and_methods_are_json_errors(server: Server) -> None:
    missing = httpx.get(f"{server.url}/nope")
    assert missing.status_code == 404 and missing.json()["error"]["kind"] == "not_found"
    wrong = httpx.get(f"{server.url}/predict")
    assert wrong.status_code == 405 and wrong.json()["error"]["kind"] == "method_not_allowed"


async def concurrent_posts(url: str, bodies: list[dict]) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=len(bodies))) as client:
        return await asyncio.gather(*(client.post(f"{url}/predict", json=body) for body in bodies))


def test_concurrent_requests_are_batched_together(server: Server, texts: list[str]) -> None:
    before = httpx.get(f"{server.url}/metrics").text
    responses = asyncio.run(concurrent_posts(server.url, [{"texts": [t]} for t in texts[:24]]))
    assert [r.json()["predictions"][0]["text"] for r in responses] == texts[:24]
    after = httpx.get(f"{server.url}/metrics").text
    requests = metric(after, "nlp_lstm_batch_requests_sum") - metric(before, "nlp_lstm_batch_requests_sum")
    batches = metric(after, "nlp_lstm_batch_requests_count") - metric(before, "nlp_lstm_batch_requests_count")
    single = (metric(after, 'nlp_lstm_batch_requests_bucket{le="1.0"}')
              - metric(before, 'nlp_lstm_batch_requests_bucket{le="1.0"}'))
    assert requests == 24 and batches < 24 and single < batches, (requests, batches, single)


def test_metrics_count_requests_errors_latency_and_queue(server: Server) -> None:
    httpx.post(f"{server.url}/predict", content=b"{", headers={"content-type": "application/json"})
    text = httpx.get(f"{server.url}/metrics").text
    assert metric(text, 'nlp_lstm_errors_total{kind="invalid_json"}') >= 1
    assert metric(text, 'nlp_lstm_requests_total{endpoint="/predict",status="422"}') >= 1
    assert metric(text, 'nlp_lstm_request_seconds_count{endpoint="/predict"}') >= 1
    assert "nlp_lstm_queue_wait_seconds_bucket" in text and "nlp_lstm_queued_texts 0.0" in text
    assert not any(line.startswith("nlp_lstm_requests_total") and 'status="5' in line for line in text.splitlines())


def test_a_full_queue_is_a_503_with_retry_after(classifier_dir: Path) -> None:
    with serving(classifier_dir, "--max-queue", "3", "--max-wait-ms", "3000") as slow:
        async def main() -> tuple[httpx.Response, httpx.Response]:
            async with httpx.AsyncClient(timeout=60) as client:
                first = asyncio.ensure_future(client.post(f"{slow.url}/predict", json={"texts": ["a", "b"]}))
                while metric((await client.get(f"{slow.url}/metrics")).text, "nlp_lstm_queued_texts") < 2:
                    await asyncio.sleep(0.02)
                refused = await client.post(f"{slow.url}/predict", json={"texts": ["c", "d"]})
                return refused, await first

        refused, first = asyncio.run(main())
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert refused.json()["error"]["kind"] == "overloaded"
    assert first.status_code == 200 and len(first.json()["predictions"]) == 2


def test_sigterm_under_load_answers_every_accepted_request_and_exits_0(classifier_dir: Path, texts: list[str]) -> None:
    server = Server(classifier_dir, *LIMITS, "--max-wait-ms", "2000")
    bodies: list[dict | bytes] = [{"texts": [t]} for t in texts[:12]]
    bodies[3:3] = [b'{"texts": [', b"{" + b" " * 30000 + b"}", b'{"texts": []}']  # malformed, oversized, empty

    async def main() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=len(bodies))) as client:
            pending = [asyncio.ensure_future(client.post(f"{server.url}/predict", **(
                {"content": b, "headers": {"content-type": "application/json"}} if isinstance(b, bytes) else
                {"json": b}))) for b in bodies]
            while metric((await client.get(f"{server.url}/metrics")).text, "nlp_lstm_queued_texts") < 12:
                await asyncio.sleep(0.02)
            server.process.send_signal(signal.SIGTERM)  # 12 texts wait in the queue for their batch
            return await asyncio.gather(*pending)

    try:
        responses = asyncio.run(main())
    finally:
        code, output = server.stop(terminate=False)  # a second SIGTERM after shutdown would kill it
    assert code == 0, output
    assert [r.status_code for r in responses] == [200] * 3 + [422, 413, 422] + [200] * 9
    answered = [r.json()["predictions"][0]["text"] for r in responses if r.status_code == 200]
    assert answered == texts[:12]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/health")


def test_a_tagger_is_served_from_tokens_or_text(tagger_dir: Path) -> None:
    sentences = [["EU", "rejects", "German", "call", "."], ["Peter", "Blackburn"]]
    expected = [prediction_row(p) for p in TagPredictor.load(tagger_dir, "cpu").predict(sentences)]
    with serving(tagger_dir) as running:
        from_tokens = httpx.post(f"{running.url}/predict", json={"tokens": sentences})
        from_text = httpx.post(f"{running.url}/predict", json={"texts": [" ".join(s) for s in sentences]})
        described = httpx.get(f"{running.url}/model").json()
        wrong = httpx.post(f"{running.url}/predict", json={"texts": ["a b"], "top_k": 3})
        spaced = httpx.post(f"{running.url}/predict", json={"tokens": [["a", "b c"]]})
    assert from_tokens.json()["predictions"] == expected == from_text.json()["predictions"]
    assert described["task"] == "tagging" and "O" in described["labels"]
    assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "top_k"
    assert spaced.status_code == 422 and spaced.json()["error"]["field"] == "tokens[0][1]"


@pytest.mark.parametrize("fmt", ["onnx", "int8"])
def test_an_export_is_served_like_its_model(classifier_dir: Path, texts: list[str], tmp_path: Path, fmt: str) -> None:
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    from nlp_lstm.export import export_model

    exported = export_model(classifier_dir, fmt, tmp_path / fmt)
    expected = Predictor.load(exported, "cpu").predict(texts[:8])
    with serving(exported) as running:
        got = httpx.post(f"{running.url}/predict", json={"texts": texts[:8]}).json()["predictions"]
        described = httpx.get(f"{running.url}/model").json()
    assert [row["label"] for row in got] == [p.label for p in expected]
    assert [row["probability"] for row in got] == pytest.approx([p.probability for p in expected], abs=2e-6)
    assert described["format"] == fmt
    assert described["metrics"] == json.loads((classifier_dir.parent / "metrics.json").read_text(encoding="utf-8"))


def test_serve_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path, classifier_dir: Path) -> None:
    assert_error(capsys, ["serve", tmp_path / "missing"], "model directory not found", "missing")
    assert_error(capsys, ["serve", classifier_dir, "--max-texts", "0"], "max_texts", "an int >= 1")
