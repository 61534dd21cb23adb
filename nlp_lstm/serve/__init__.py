"""`nlp-lstm serve`: a model directory behind HTTP (FastAPI on uvicorn), with dynamic batching and Prometheus
metrics. Needs the `serve` extra: pip install 'nlp-lstm[serve]'."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import ConfigError

try:
    import uvicorn

    from ..config import ServeConfig
    from .app import create_app
except ImportError as err:  # pragma: no cover - the extra is installed in the tests
    raise ConfigError(f"serving needs the serve extra ({err.name} is missing): pip install 'nlp-lstm[serve]'"
                      ) from None

__all__ = ["ServeConfig", "create_app", "serve"]


class _Server(uvicorn.Server):
    """uvicorn's server, stopped by SIGTERM or Ctrl-C the graceful way (no new connections, every accepted request
    answered) and then ending normally: uvicorn alone re-raises the signal, so the process would not exit 0."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        originals = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)

    def _stop(self, signum: int, frame: object) -> None:
        app = self.config.app
        app.state.ready = False  # /ready says 503 while the accepted requests finish
        if self.should_exit and signum == signal.SIGINT:
            self.force_exit = True  # a second Ctrl-C: stop without waiting
        self.should_exit = True


def serve(model_dir: str | Path, config: ServeConfig | None = None) -> None:
    """Load the model in `model_dir` and serve it until SIGTERM or Ctrl-C."""
    import torch

    config = config or ServeConfig()
    torch.set_num_threads(config.threads or max(1, (os.cpu_count() or 1) - 1))
    app = create_app(model_dir, config)
    server = _Server(uvicorn.Config(app, host=config.host, port=config.port, access_log=config.access_log,
                                    timeout_graceful_shutdown=config.graceful_timeout, log_level="info"))
    server.run()
