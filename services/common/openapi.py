"""OpenAPI documents generated from the marshmallow schemas (apispec).

Each service lists its routes once (`Route`), and serves the document at
`GET /openapi.json`; tests check it against API.md.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields

ERROR_STATUSES = {
    400: "Invalid input (field errors under `fields`)", 401: "Missing or unknown token",
    403: "This role or agency may not do this", 404: "Not found", 409: "Conflict or illegal move",
    413: "Body larger than 64 KiB", 415: "Body is not application/json",
}


class ErrorBody(Schema):
    error = fields.String(required=True, metadata={"example": "validation_error"})
    message = fields.String(required=True)
    fields_ = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                          data_key="fields", attribute="fields")


@dataclass(frozen=True)
class Route:
    method: str
    path: str                       # OpenAPI form: /cases/{case_id}
    summary: str
    roles: tuple[str, ...] = ()
    request: type[Schema] | None = None
    query: type[Schema] | None = None
    response: type[Schema] | None = None
    status: int = 200
    errors: tuple[int, ...] = (400, 401, 403)
    extra_responses: dict = field(default_factory=dict)
    # what a 2xx answer may be: JSON types carry `response`, others (text/csv, NDJSON) are text
    media_types: tuple[str, ...] = ("application/json",)
    description: str | None = None


def build_spec(title: str, description: str, routes: list[Route], version: str = "1.0.0") -> dict:
    spec = APISpec(title=title, version=version, openapi_version="3.0.3",
                   info={"description": description}, plugins=[MarshmallowPlugin()])
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                               "description": "API key from `refhub keys create`"})
    spec.components.schema("Error", schema=ErrorBody)
    paths: dict[str, dict] = {}
    for route in routes:
        operation: dict = {"summary": route.summary, "responses": {}}
        if route.roles:
            operation["security"] = [{"bearer": []}]
            operation["description"] = "Roles: " + ", ".join(route.roles)
        if route.description:
            operation["description"] = "\n\n".join(filter(None, (operation.get("description"), route.description)))
        if route.request is not None:
            operation["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": route.request}}}
        if route.query is not None:
            operation["parameters"] = [{"in": "query", "schema": route.query}]
        params = re.findall(r"\{(\w+)\}", route.path)   # also /visits/{visit_id}.ics
        if params:
            operation.setdefault("parameters", []).extend(
                {"in": "path", "name": p, "required": True, "schema": {"type": "string"}} for p in params)
        ok = {"description": "OK"}
        content = {media: {"schema": route.response if _is_json(media) else {"type": "string"}}
                   for media in route.media_types if route.response is not None or not _is_json(media)}
        if content:
            ok["content"] = content
        operation["responses"][str(route.status)] = ok
        for status, description in route.extra_responses.items():
            operation["responses"][str(status)] = {"description": description}
        for status in (route.errors if route.roles else ()):
            operation["responses"][str(status)] = {
                "description": ERROR_STATUSES[status],
                "content": {"application/json": {"schema": "Error"}}}
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


HEALTH_ROUTE = Route("GET", "/health", "200 when the broker and the database answer, else 503",
                     extra_responses={503: "Broker or database down"})
OPENAPI_ROUTE = Route("GET", "/openapi.json", "This document")
