"""A real HTTP server on 127.0.0.1 for the fetch and feed tests (stdlib http.server).

Routes are functions of the request (path, headers, how many times this path was hit)
returning (status, headers, body); a body may be a callable that writes slowly. Every
request is logged, so tests can assert what the client sent.
"""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

Response = tuple[int, dict[str, str], Any]
Route = Callable[["Request"], Response]


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    hit: int  # 1 for the first request to this path
    at: float = 0.0  # time.monotonic() when it arrived


@dataclass
class FeedServer:
    host: str
    port: int
    routes: dict[str, Route] = field(default_factory=dict)
    log: list[Request] = field(default_factory=list)
    hits: dict[str, int] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def requests_to(self, path: str) -> list[Request]:
        return [r for r in self.log if r.path == path]


def _handler(server: FeedServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            path = self.path.split("?", 1)[0]
            with _LOCK:
                server.hits[path] = server.hits.get(path, 0) + 1
                request = Request(path, {k.lower(): v for k, v in self.headers.items()},
                                  server.hits[path], time.monotonic())  # fmt: skip
                server.log.append(request)
            route = server.routes.get(path)
            if route is None:
                status, headers, body = 404, {"Content-Type": "text/plain"}, b"not found"
            else:
                status, headers, body = route(request)
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if callable(body):
                    self.send_header("Connection", "close")
                    self.end_headers()
                    body(self.wfile)
                    self.close_connection = True
                    return
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    return Handler


_LOCK = threading.Lock()


@contextlib.contextmanager
def serve(routes: dict[str, Route] | None = None) -> Iterator[FeedServer]:
    """A FeedServer on 127.0.0.1 (free port) for the duration of the block."""
    server = FeedServer("127.0.0.1", 0, dict(routes or {}))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    httpd.daemon_threads = True
    server.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()


def static(body: bytes, content_type: str = "application/xml", **headers: str) -> Route:
    """A route that always answers 200 with `body`, honouring If-None-Match on its ETag."""
    extra = {name.replace("_", "-"): value for name, value in headers.items()}

    def route(request: Request) -> Response:
        etag = extra.get("ETag")
        if etag and request.headers.get("if-none-match") == etag:
            return 304, {"ETag": etag}, b""
        return 200, {"Content-Type": content_type, **extra}, body

    return route
