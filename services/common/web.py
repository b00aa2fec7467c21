"""The HTTP server every service runs: nameko's eventlet WSGI server, with bounds a slow client cannot pass.

nameko hands each request to a worker from the container's one pool (`max_workers`), the pool the
event handlers and timers use too, and the worker read the body itself: a client that sent half a
body held a worker until it went away, so a dozen of them stopped the service and its events. Here:

- the body is read by the connection's own green thread *before* a worker is asked for, within
  HTTP_BODY_TIMEOUT_SECONDS and at most HTTP_MAX_BODY_BYTES; a client that does not finish in time
  gets 408 and the connection is closed, without ever holding a worker;
- the request line and headers must arrive within HTTP_HEADER_TIMEOUT_SECONDS, and a connection
  silent for HTTP_IDLE_TIMEOUT_SECONDS (keep-alive included) is closed;
- at most HTTP_MAX_CONCURRENT requests hold a worker at once (default: `max_workers` less two), so
  event handlers and timers always find a free worker; `GET /health` is not counted;
- every response says `Cache-Control: no-store` and `X-Content-Type-Options: nosniff`, and what
  werkzeug would answer in HTML (a method no route declares, such as TRACE) is answered in JSON.

Entrypoints use `http` from here (or services.common.http) instead of nameko.web.handlers.http.
"""
from __future__ import annotations

import io
import socket
from logging import getLogger

import eventlet
from eventlet import wsgi
from eventlet.semaphore import Semaphore
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import HttpOnlyProtocol, WebServer, WsgiApp
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from .logs import get_logger

log = get_logger(__name__)

DEFAULT_MAX_BODY_BYTES = 64 * 1024
SECURITY_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
UNCOUNTED_PATHS = frozenset({"/health"})  # always answered, however busy the service is
EVENT_WORKER_RESERVE = 2


def _setting(config, name: str, default: float) -> float:
    value = config.get(name)
    return float(value) if value not in (None, "") else float(default)


def problem(status: int, code: str, message: str, **extra) -> Response:
    from .http import json_response  # http.py builds on this module

    return json_response({"error": code, "message": message, **extra}, status)


class BoundedProtocol(HttpOnlyProtocol):
    """Gives the request line and the headers a deadline; lets the app ask for the connection to close."""

    def _read_request_line(self):
        # the wait for the next request on a kept-alive connection counts: idle, then the line itself
        with eventlet.Timeout(self.server.refhub_idle_seconds + self.server.refhub_header_seconds, False):
            return super()._read_request_line()
        self.close_connection = 1
        return ""

    def parse_request(self):
        with eventlet.Timeout(self.server.refhub_header_seconds, False):
            return super().parse_request()
        self.close_connection = 1
        return False

    def get_environ(self):
        environ = super().get_environ()
        environ["refhub.close_connection"] = self._close_after_response
        return environ

    def _close_after_response(self):
        # an unfinished body must not be drained (a stalled client would hold the connection)
        self.close_connection = 1


class BoundedWsgiApp(WsgiApp):
    def __init__(self, server):
        super().__init__(server)
        config = server.container.config
        self.body_seconds = _setting(config, "HTTP_BODY_TIMEOUT_SECONDS", 10)
        self.max_body_bytes = int(_setting(config, "HTTP_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES))
        max_workers = int(config.get("max_workers") or 10)
        limit = int(_setting(config, "HTTP_MAX_CONCURRENT", max(1, max_workers - EVENT_WORKER_RESERVE)))
        self.in_flight = Semaphore(max(1, limit))

    def __call__(self, environ, start_response):
        response = self._respond(environ)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response(environ, start_response)

    def _respond(self, environ) -> Response:
        refusal = self._read_body(environ)
        if refusal is not None:
            environ["refhub.close_connection"]()
            return refusal
        request = Request(environ, shallow=True)
        adapter = self.url_map.bind_to_environ(environ)
        try:
            provider, values = adapter.match()
        except HTTPException:  # a method no route declares (TRACE, CONNECT, ...): JSON, as for the rest
            from .http import allowed_methods

            allowed = allowed_methods(self.server.container.service_cls, request.path)
            if allowed:
                return _with_allow(allowed)
            return problem(404, "not_found", "no such route; see /openapi.json")
        request.path_values = values
        if request.path in UNCOUNTED_PATHS:
            return provider.handle_request(request)
        with self.in_flight:  # waits here, in the connection's thread, not in a worker
            return provider.handle_request(request)

    def _read_body(self, environ) -> Response | None:
        """Read the whole body now, or the refusal to send instead (the connection is then closed)."""
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return problem(400, "bad_request", "Content-Length must be a number")
        if not chunked and length == 0:
            return None
        if length > self.max_body_bytes:
            return problem(413, "payload_too_large", f"the body must be at most {self.max_body_bytes} bytes")
        stream = environ["wsgi.input"]
        body = None
        with eventlet.Timeout(self.body_seconds, False):
            body = _read_up_to(stream, self.max_body_bytes + 1, None if chunked else length)
        if body is None:
            log.warning("http_body_timeout", seconds=self.body_seconds)
            return problem(408, "request_timeout",
                           f"the body did not arrive within {self.body_seconds:g} seconds")
        if len(body) > self.max_body_bytes:
            return problem(413, "payload_too_large", f"the body must be at most {self.max_body_bytes} bytes")
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return None


def _read_up_to(stream, limit: int, length: int | None) -> bytes:
    parts, size = [], 0
    while size < limit and (length is None or size < length):
        want = min(limit - size, 16 * 1024) if length is None else min(limit - size, length - size)
        part = stream.read(want)
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def _with_allow(allowed: list[str]) -> Response:
    response = problem(405, "method_not_allowed",
                       f"this route answers {', '.join(allowed)}; see /openapi.json", allowed=allowed)
    response.headers["Allow"] = ", ".join(allowed)
    return response


class BoundedWebServer(WebServer):
    def get_wsgi_server(self, sock, wsgi_app, protocol=BoundedProtocol, debug=False):
        config = self.container.config
        idle = _setting(config, "HTTP_IDLE_TIMEOUT_SECONDS", 30)
        # no Nagle: eventlet writes a response's head and body apart, and a small body otherwise
        # waited for the client's delayed ACK of the head (40 ms on Linux; set here, every accepted
        # connection inherits it). Measured: a 5-line GET /cases 41 ms -> a few ms.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        server = wsgi.Server(sock, sock.getsockname(), wsgi_app, protocol=protocol, debug=debug,
                             log=getLogger("nameko.web.server"), socket_timeout=idle, keepalive=idle)
        server.refhub_idle_seconds = idle
        server.refhub_header_seconds = _setting(config, "HTTP_HEADER_TIMEOUT_SECONDS", 10)
        return server

    def get_wsgi_app(self):
        return BoundedWsgiApp(self)


class BoundedHttpRequestHandler(HttpRequestHandler):
    server = BoundedWebServer()


http = BoundedHttpRequestHandler.decorator
