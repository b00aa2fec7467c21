"""HTTP plumbing shared by the services: JSON in and out, auth, one error table."""
from __future__ import annotations

import functools
import json
import math
import re
import uuid
from collections.abc import Mapping
from datetime import date, datetime

from marshmallow import ValidationError
from nameko.web.handlers import HttpRequestHandler
from werkzeug.routing import Map
from werkzeug.wrappers import Response

from .auth import Forbidden, Principal, Unauthenticated, require_role
from .logs import bind_context, clear_context, get_logger
from .web import SECURITY_HEADERS, http  # services take `http` from here: the bounded server

log = get_logger(__name__)

MAX_BODY_BYTES = 64 * 1024


class ApiError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, **extra):
        super().__init__(message)
        self.message = message
        self.extra = extra


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(ApiError):
    status, code = 415, "unsupported_media_type"


class TooManyRequests(ApiError):
    status, code = 429, "too_many_requests"


def flatten_errors(messages) -> dict[str, list[str]]:
    """marshmallow's nested error messages as dotted paths.

    ``{"person": {"address": {"postcode": ["..."]}}}`` -> ``{"person.address.postcode": ["..."]}``.
    A ``_schema`` error belongs to the object that holds it (``"person"``, or
    ``"_schema"`` at the top); list indexes become path parts (``"items.0.at"``).
    """
    flat: dict[str, list[str]] = {}
    _flatten_into(flat, messages, ())
    return flat


def _flatten_into(flat: dict[str, list[str]], messages, path: tuple[str, ...]) -> None:
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            _flatten_into(flat, value, path if key == "_schema" else (*path, str(key)))
    elif isinstance(messages, list | tuple):
        for message in messages:
            _flatten_into(flat, message, path)
    else:
        flat.setdefault(".".join(path) or "_schema", []).append(str(messages))


# The one place exceptions become HTTP statuses. Services add their domain
# errors (e.g. IllegalTransition -> 409) with `register_error`.
ERROR_TABLE: dict[type, tuple[int, str]] = {
    ValidationError: (400, "validation_error"),
    Unauthenticated: (401, "unauthenticated"),
    Forbidden: (403, "forbidden"),
}


def register_error(exc_type: type, status: int, code: str) -> None:
    ERROR_TABLE[exc_type] = (status, code)


def _default(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_response(body, status: int = 200, headers: dict | None = None) -> Response:
    # responses carry personal data: no cache keeps them, no browser guesses another type
    return Response(json.dumps(body, default=_default), status=status,
                    mimetype="application/json", headers={**SECURITY_HEADERS, **(headers or {})})


def error_response(exc: Exception) -> Response:
    if isinstance(exc, TooManyRequests):
        seconds = max(1, math.ceil(exc.extra["retry_after"]))
        return json_response({"error": exc.code, "message": exc.message, "retry_after": seconds}, 429,
                             headers={"Retry-After": str(seconds)})
    if isinstance(exc, ApiError):
        return json_response({"error": exc.code, "message": exc.message, **exc.extra}, exc.status)
    for exc_type in type(exc).__mro__:
        if exc_type in ERROR_TABLE:
            status, code = ERROR_TABLE[exc_type]
            body = {"error": code, "message": str(exc) or code}
            if isinstance(exc, ValidationError):
                body["message"] = "some fields are not valid"
                body["fields"] = flatten_errors(exc.messages)
            return json_response(body, status)
    log.exception("unexpected_error")
    return json_response({"error": "internal_error",
                          "message": "something went wrong on our side; nothing was saved"}, 500)


def read_json(request, max_bytes: int = MAX_BODY_BYTES):
    """The request's JSON body, or a clear 4xx (size checked before reading)."""
    return parse_json(read_json_bytes(request, max_bytes))


def read_json_bytes(request, max_bytes: int = MAX_BODY_BYTES) -> bytes:
    """The raw bytes of a JSON body (a signed webhook checks them before they are parsed)."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise PayloadTooLarge(f"the body must be at most {max_bytes} bytes")
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("send the body as application/json")
    # werkzeug's stream is empty without a Content-Length; a chunked body is read from the server's input
    chunked = request.content_length is None and "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    stream = request.environ["wsgi.input"] if chunked else request.stream
    raw = stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"the body must be at most {max_bytes} bytes")
    return raw


def parse_json(raw: bytes):
    """JSON from a body's bytes, or a clear 400."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        # never the parser's own words: they quote the body and name interpreter internals
        raise BadRequest("the body is not valid JSON (UTF-8, integers of at most 4300 digits)") from None
    except RecursionError:
        raise BadRequest("the body is nested too deeply") from None
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest("the body contains text that is not valid Unicode (a lone surrogate)") from None
    return body


MAX_IDEMPOTENCY_KEY = 200


def idempotency_key_of(request) -> str | None:
    """The Idempotency-Key header (stored with the referral), at most MAX_IDEMPOTENCY_KEY characters."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise BadRequest(f"Idempotency-Key must be at most {MAX_IDEMPOTENCY_KEY} printable characters")
    return key


_CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


def correlation_id_of(request) -> str:
    """The caller's X-Correlation-ID when it is a plain id, else a new one (it is stored and logged)."""
    given = request.headers.get("X-Correlation-ID", "")
    return given if _CORRELATION_ID.match(given) else str(uuid.uuid4())


def api(*, roles=None, auth: bool = True):
    """Wrap a nameko @http method: correlation id, auth, JSON errors.

    The wrapped method receives `(self, request, principal, **path_args)` and
    returns a Response or a `(status, body)` / body to send as JSON.
    The service must have an `api_keys = ApiKeys()` dependency when auth is on.
    """
    def decorator(fn):
        @functools.wraps(fn)
        def endpoint(self, request, *args, **kwargs):
            clear_context()
            correlation_id = correlation_id_of(request)
            bind_context(correlation_id=correlation_id)
            request.correlation_id = correlation_id
            try:
                principal: Principal | None = None
                if auth:
                    principal = _authenticate(self.api_keys, request)
                    bind_context(role=principal.role, key_id=principal.key_id)
                    if roles:
                        require_role(principal, roles)
                result = fn(self, request, principal, *args, **kwargs)
                if isinstance(result, Response):
                    response = result
                elif isinstance(result, tuple):
                    response = json_response(result[1], result[0])
                else:
                    response = json_response(result)
            except Exception as exc:
                response = error_response(exc)
            response.headers["X-Correlation-ID"] = correlation_id
            log.info("http_request", method=request.method, path=request.path,
                     status=response.status_code)
            return response
        return endpoint
    return decorator


def _authenticate(api_keys, request) -> Principal:
    """The caller's principal; 429 for an address that sent too many unknown tokens lately."""
    throttle = getattr(api_keys, "bad_tokens", None)
    address = request.remote_addr or "unknown"
    if throttle is not None:
        wait = throttle.retry_after(address)
        if wait:
            raise TooManyRequests("too many requests with unknown tokens from this address; try again later",
                                  retry_after=wait)
    try:
        return api_keys.principal(request.headers.get("Authorization"))
    except Unauthenticated:
        if throttle is not None:
            throttle.failed(address)
        raise


class ServiceHttp:
    """Mixin for a service: `/health`, `/openapi.json`, and JSON for unknown routes.

    The service provides `store` (MongoStore), `events` (EventPublisher) and
    `openapi_document`. Run services as `module:Class` so nameko does not take
    this mixin, imported into the module, for a service of its own.
    """

    openapi_document: dict = {}

    @http("GET", "/health")
    def health(self, request):
        from .health import health_response  # health builds on this module's json_response

        return health_response(self.events.amqp_uri, self.store)

    @http("GET", "/openapi.json")
    def openapi(self, request):
        return json_response(self.openapi_document)

    @http("GET,POST,PUT,PATCH,DELETE,OPTIONS", "/")
    def root(self, request):
        return json_response({"service": self.name, "openapi": "/openapi.json", "health": "/health"})

    @http("GET,POST,PUT,PATCH,DELETE,OPTIONS", "/<path:unknown>")
    def unknown_route(self, request, unknown):
        allowed = allowed_methods(type(self), request.path)
        if allowed:  # a known route, an undeclared method
            return json_response({"error": "method_not_allowed", "allowed": allowed,
                                  "message": f"{request.path} answers {', '.join(allowed)}, not "
                                             f"{request.method}; see /openapi.json"},
                                 405, headers={"Allow": ", ".join(allowed)})
        return json_response({"error": "not_found",
                              "message": f"no route {request.method} /{unknown}; see /openapi.json"}, 404)


@functools.cache
def _declared_routes(service_cls) -> Map:
    """The service's own HTTP routes (all but the catch-all), to tell 405 from 404."""
    rules = []
    for attr in dir(service_cls):
        if attr == "unknown_route":
            continue
        for entrypoint in getattr(getattr(service_cls, attr, None), "nameko_entrypoints", ()):
            if isinstance(entrypoint, HttpRequestHandler):
                rules.append(entrypoint.get_url_rule())
    return Map(rules)


def allowed_methods(service_cls, path: str) -> list[str]:
    """The methods a path of this service answers (GET brings HEAD); [] for no such route."""
    return sorted(_declared_routes(service_cls).bind("localhost").allowed_methods(path))
