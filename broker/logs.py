"""structlog setup shared by every studio process: one event per line, JSON when stderr is not
a terminal (daemons, CI), human-readable when it is."""

from __future__ import annotations

import logging
import sys

import structlog


class _SslEofNoise(logging.Filter):
    """nats-py's protocol answers EOF with True, which asyncio's SSL transport ignores but
    logs as a warning on every TLS disconnect: noise on each CLI command's output."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "eof_received() has no effect when using ssl" not in record.getMessage()


def _stderr_logger(*args: object) -> structlog.PrintLogger:
    return structlog.PrintLogger(file=sys.stderr)


def configure_logging(level: str = "info", json: bool | None = None) -> None:
    asyncio_log = logging.getLogger("asyncio")
    if not any(isinstance(f, _SslEofNoise) for f in asyncio_log.filters):
        asyncio_log.addFilter(_SslEofNoise())
    use_json = not sys.stderr.isatty() if json is None else json
    renderer = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        # sys.stderr as it is when a line is written, not when this ran: a caller may have
        # replaced it since (pytest's capture, a daemon redirecting its output).
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
