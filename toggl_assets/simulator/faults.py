"""Injected faults: what a flaky proxy or an overloaded Toggl would answer (toggl-api.md §4.1, §6)."""

from __future__ import annotations

import random
import threading

from .config import FAULT_KINDS
from .wire import JSON_TYPE, Reply, error_reply

HTML_429 = (
    b"<html>\r\n<head><title>429 Too Many Requests</title></head>\r\n<body>\r\n"
    b"<center><h1>429 Too Many Requests</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
HTML_502 = (
    b'<html><head>\n<meta http-equiv="content-type" content="text/html;charset=utf-8">\n'
    b"<title>502 Server Error</title>\n</head>\n<body text=#000000 bgcolor=#ffffff>\n"
    b"<h1>Error: Server Error</h1>\n<h2>The server encountered a temporary error and could not "
    b"complete your request.<p>Please try again in 30 seconds.</h2>\n</body></html>\n"
)
HTML_503 = (
    b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    b"<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
ERROR_KINDS = ("500", "502", "503", "429")  # answered instead of the request
BODY_KINDS = ("truncate", "malformed")  # the request's own answer, broken


class Faults:
    """A seeded fault schedule: each request draws a fault with probability ``rate``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.injected = 0
        self.set(0.0, FAULT_KINDS, 0)

    def set(self, rate: float, kinds: tuple[str, ...] | list[str] | None = None, seed: int = 0) -> None:
        kinds = tuple(kinds) if kinds is not None else FAULT_KINDS
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown or not 0 <= rate <= 1:
            raise ValueError(f"bad fault settings: rate={rate} unknown kinds={sorted(unknown)}")
        with self.lock:
            self.rate, self.kinds = float(rate), kinds
            self.rng = random.Random(seed)

    def roll(self) -> str | None:
        with self.lock:
            if self.rate <= 0 or not self.kinds or self.rng.random() >= self.rate:
                return None
            self.injected += 1
            return self.rng.choice(self.kinds)

    def error_reply(self, kind: str) -> Reply:
        if kind == "500":
            return error_reply(500, "Internal Server Error")
        if kind == "502":
            return Reply(502, HTML_502, {"Content-Type": "text/html; charset=UTF-8"})
        if kind == "503":
            return Reply(503, HTML_503, {"Content-Type": "text/html"})
        with self.lock:
            retry = self.rng.random() < 0.5
        return Reply(429, HTML_429, {"Content-Type": "text/html", **({"Retry-After": "1"} if retry else {})})


def mangle(reply: Reply, fault: str) -> tuple[Reply, str]:
    """(reply, delivery mode) for a body fault: "truncate" is done by the transport, "malformed" here."""
    if fault == "truncate":
        return reply, "truncate"
    body = reply.body[: max(1, len(reply.body) // 2)] + b'"}\x00{,'  # not JSON whatever it was
    return Reply(200, body, {**reply.headers, "Content-Type": JSON_TYPE}), "normal"
