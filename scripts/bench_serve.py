"""Throughput and latency of `nlp-lstm serve` under concurrent single-text clients, side by side in one run.

Starts `nlp-lstm serve MODEL_DIR` on 127.0.0.1 (a free port) in a subprocess, then, for each level of
concurrency, runs that many asyncio clients (httpx, keep-alive connections) in this process for a bounded
time, each posting one test review at a time ({"texts": [one review]}) and waiting for its answer. Prints:

  one at a time   `Predictor.predict([text])` in a loop in this process (no HTTP): the rate of a server
                  that runs each text on its own
  per level       requests/s, that rate over the one-at-a-time rate, p50 / p99 latency, errors (any answer
                  but 200, or a failed connection), and the mean texts per model call (from /metrics)
  server          peak resident memory (VmHWM)

The clients share the machine with the server: on a 2-core machine they take part of the CPU the server
would otherwise have.

    python scripts/bench_serve.py --model runs/zh_reviews/model        # the model `make run` trains
    python scripts/bench_serve.py --model runs/zh_reviews/model --seconds 10 --server-args="--max-wait-ms 2"
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

from nlp_lstm.config import load_config
from nlp_lstm.data.sources import load_splits
from nlp_lstm.predictor import Predictor

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "sentiment" / "zh_reviews.toml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_at_a_time(model: str, texts: list[str], seconds: float) -> float:
    """Texts/s of Predictor.predict on one text at a time, in this process, on as many threads as the server's
    default."""
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) - 1))
    predictor = Predictor.load(model, "cpu")
    for text in texts[:20]:
        predictor.predict([text])
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        predictor.predict([texts[done % len(texts)]])
        done += 1
    return done / (time.perf_counter() - start)


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def post_raw(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, body: bytes) -> int:
    """POST /predict on a kept-alive HTTP/1.1 connection; the status code (the answer is read whole)."""
    writer.write(b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def drive_raw(url: str, texts: list[str], clients: int, seconds: float) -> tuple[list[float], int]:
    """As `drive`, with a client of a few lines on asyncio streams: it costs the CPU far less than httpx."""
    host, port = url.removeprefix("http://").split(":")
    bodies = [json.dumps({"texts": [t]}, ensure_ascii=False).encode() for t in texts]
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def client(k: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        i = k
        while time.perf_counter() < stop:
            started = time.perf_counter()
            try:
                ok = await post_raw(reader, writer, bodies[i % len(bodies)]) == 200
            except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
                ok = False
                writer.close()
                reader, writer = await asyncio.open_connection(host, int(port))
            if ok:
                latencies.append(time.perf_counter() - started)
            else:
                errors += 1
            i += clients
        writer.close()

    await asyncio.gather(*(client(k) for k in range(clients)))
    return latencies, errors


async def drive(url: str, texts: list[str], clients: int, seconds: float) -> tuple[list[float], int]:
    """`clients` httpx clients posting one text at a time for `seconds`: each answer's latency (s), and the
    errors."""
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def client(k: int, http: httpx.AsyncClient) -> None:
        nonlocal errors
        i = k
        while time.perf_counter() < stop:
            started = time.perf_counter()
            try:
                response = await http.post(f"{url}/predict", json={"texts": [texts[i % len(texts)]]})
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append(time.perf_counter() - started)
            else:
                errors += 1
            i += clients

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        await asyncio.gather(*(client(k, http) for k in range(clients)))
    return latencies, errors


def start_server(model: str, port: int, extra: list[str]) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "nlp_lstm", "serve", model, "--port", str(port), *extra],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}: {process.stderr.read()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                return process
        time.sleep(0.2)
    process.kill()
    raise SystemExit("the server was not ready after 120 s")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="runs/zh_reviews/model",
                        help="a zh-reviews model directory (default: runs/zh_reviews/model, from `make run`)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32, 128])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per level (after 1 s warm-up)")
    parser.add_argument("--server-args", default="", help="more `nlp-lstm serve` options, e.g. '--max-wait-ms 2'")
    parser.add_argument("--client", choices=["raw", "httpx"], default="raw",
                        help="raw: HTTP/1.1 on asyncio streams (default; about 0.1 ms of CPU a request); httpx: "
                             "httpx.AsyncClient (2-5 ms a request here, more than the server spends)")
    args = parser.parse_args()
    if not (Path(args.model) / "config.json").is_file():
        raise SystemExit(f"{args.model}: no model directory; run `make run` first or give --model")

    texts = list(load_splits(load_config(RECIPE).data)["test"].texts)
    single = one_at_a_time(args.model, texts, args.seconds)
    port = free_port()
    extra = shlex.split(args.server_args)
    server = start_server(args.model, port, extra)
    url = f"http://127.0.0.1:{port}"
    print(f"model {args.model}; {len(texts):,} zh-reviews test texts, one per request; server options "
          f"{' '.join(extra) or '(defaults)'}; {args.client} clients; {os.cpu_count()} CPU cores shared by server and "
          f"clients; "
          f"{args.seconds:g} s per level")
    print(f"one at a time, in process (Predictor.predict([text])): {single:,.0f} texts/s "
          f"({1000 / single:.2f} ms a text)")
    print(f"{'clients':>7} {'requests/s':>11} {'x one at a time':>16} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} "
          f"{'texts per call':>15}")
    try:
        for clients in args.clients:
            run = drive_raw if args.client == "raw" else drive
            asyncio.run(run(url, texts, clients, 1.0))  # warm-up: connections, allocator
            before = httpx.get(f"{url}/metrics").text
            latencies, errors = asyncio.run(run(url, texts, clients, args.seconds))
            after = httpx.get(f"{url}/metrics").text
            calls = metric(after, "nlp_lstm_batch_texts_count") - metric(before, "nlp_lstm_batch_texts_count")
            batched = metric(after, "nlp_lstm_batch_texts_sum") - metric(before, "nlp_lstm_batch_texts_sum")
            rate = len(latencies) / args.seconds
            ms = np.array(latencies) * 1000 if latencies else np.array([np.nan])
            print(f"{clients:7d} {rate:11,.0f} {rate / single:15.1f}x {np.percentile(ms, 50):8.1f} "
                  f"{np.percentile(ms, 99):8.1f} {errors:7d} {batched / max(calls, 1):15.1f}", flush=True)
        print(f"server peak RSS: {peak_rss_mb(server.pid):,.0f} MB")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            code = server.wait()
        print(f"server stopped by SIGTERM: exit status {code}")


if __name__ == "__main__":
    main()
