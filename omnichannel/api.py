"""The JSON API at /api/v1/: tenant API tokens, JSON errors, OpenAPI docs at /api/v1/docs.

Every answer that is not a success is ``{"error": {"code": ..., "message": ...}}`` with the
matching status, including unknown routes (404) and wrong methods (405). Routes declare the
permission they need with :func:`permission_required`; a token whose role lacks it gets a 403
naming the codename.
"""

import hashlib
import json
import logging
import mimetypes
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import lru_cache, wraps
from pathlib import Path
from typing import Any

import ninja
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import DataError
from django.db.models import Q
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseNotAllowed,
)
from django.http.multipartparser import MultiPartParserError
from django.template import engines
from django.urls import URLPattern, URLResolver, path, re_path, reverse
from ninja import Field, NinjaAPI, Schema, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.docs import DocsBase
from ninja.openapi.schema import OpenAPISchema
from ninja.pagination import LimitOffsetPagination, paginate
from ninja.schema import DjangoGetter
from ninja.security import HttpBearer
from pydantic import BaseModel, model_validator

from omnichannel import permissions
from omnichannel.actions import (
    ACTION_ERROR_STATUS,
    ActionError,
    authenticate_api_token,
    do_create_api_token,
    do_revoke_api_token,
)
from omnichannel.audit import audit_events_for_tenant, record_refusal
from omnichannel.models import ApiToken, AuditEvent, Role, hash_secret
from omnichannel.permissions import BuiltinRole, app_modules
from omnichannel.tenancy import MissingPermission, get_in_tenant

logger = logging.getLogger(__name__)


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        api_token = authenticate_api_token(token)
        if api_token is not None:
            request.tenant = api_token.tenant
            request.api_token = api_token
        else:
            _audit_rejected_token(request, token)
        return api_token


def _audit_rejected_token(request: HttpRequest, raw: str) -> None:
    """A bearer token that does not work (401): a revoked one is recorded in its tenant, with
    the token; an unknown one on the platform, by address (never the value sent)."""
    known = (
        ApiToken.objects.select_related("tenant").filter(token_hash=hash_secret(raw)).first()
        if raw.startswith(ApiToken.PREFIX) and len(raw) <= 100
        else None
    )
    if known is None:
        record_refusal(
            AuditEvent.Action.API_TOKEN_REJECTED, request=request, data={"reason": "unknown"}
        )
        return
    reason = "revoked" if known.revoked_at is not None else "tenant inactive"
    record_refusal(
        AuditEvent.Action.API_TOKEN_REJECTED,
        request=request,
        tenant=known.tenant,
        token=known,
        data={"reason": reason},
    )


# --- Docs that work offline and under our CSP ---------------------------------------------------

# django-ninja ships Swagger UI; "ninja" is not an installed app, so its files are not static
# files here and ninja would fall back to a CDN (blocked by our CSP and unreachable offline).
# The docs page below loads them from /api/v1/docs/assets/ instead.
NINJA_STATIC = Path(ninja.__file__).parent / "static" / "ninja"
DOCS_ASSETS = frozenset(
    {
        "swagger-ui.css",
        "swagger-ui.css.map",
        "swagger-ui-bundle.js",
        "swagger-ui-bundle.js.map",
        "swagger-ui-init.js",
        "favicon.png",
    }
)
DOCS_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{{ api.title }}</title>
  <link rel="stylesheet" href="{{ assets }}swagger-ui.css">
  <link rel="icon" type="image/png" href="{{ assets }}favicon.png">
</head>
<body data-csrf-token="" data-api-csrf="">
  {{ swagger_settings|json_script:"swagger-settings" }}
  <div id="swagger-ui"></div>
  <script nonce="{{ csp_nonce }}" src="{{ assets }}swagger-ui-bundle.js"></script>
  <script nonce="{{ csp_nonce }}" src="{{ assets }}swagger-ui-init.js"></script>
</body>
</html>
"""


class OfflineSwagger(DocsBase):
    settings = {
        "layout": "BaseLayout",
        "deepLinking": True,
        # The default validator badge is an image from validator.swagger.io.
        "validatorUrl": None,
        "persistAuthorization": False,
    }

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        context = {
            "api": api,
            "assets": reverse(f"{api.urls_namespace}:docs-asset", args=["x"])[:-1],
            "swagger_settings": {**self.settings, "url": self.get_openapi_url(api, kwargs)},
        }
        html = engines["django"].from_string(DOCS_TEMPLATE).render(context, request)
        return HttpResponse(html)


def docs_asset(request: HttpRequest, name: str) -> HttpResponseBase:
    if name not in DOCS_ASSETS:
        return error(request, 404, "not_found", f"No docs asset named “{name}”.")
    content_type, _ = mimetypes.guess_type(name)
    response = FileResponse(
        (NINJA_STATIC / name).open("rb"), content_type=content_type or "application/json"
    )
    response["Cache-Control"] = "public, max-age=86400"
    return response


# --- The API object ----------------------------------------------------------------------------


class CentroAPI(NinjaAPI):
    """NinjaAPI whose unknown routes and wrong methods also answer the JSON error shape, and
    whose OpenAPI document lists the error statuses of every operation."""

    def get_openapi_schema(self, **kwargs: Any) -> OpenAPISchema:
        schema = super().get_openapi_schema(**kwargs)
        document_error_responses(self, schema)
        return schema

    def _get_urls(self) -> list[URLPattern | URLResolver]:
        urls = []
        for pattern in super()._get_urls():
            if isinstance(pattern, URLPattern):
                if pattern.name == "api-root":
                    # ninja's root raises a bare Http404 (an HTML page); keep the name, which
                    # ninja reverses to build the schema's paths.
                    pattern.callback = unknown_route
                else:
                    pattern.callback = _json_not_allowed(pattern.callback)
            urls.append(pattern)
        urls.append(path("docs/assets/<str:name>", docs_asset, name="docs-asset"))
        urls.append(re_path(r"^.*$", unknown_route, name="unknown-route"))
        return urls


def _json_not_allowed(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        nul = _nul_in_url(request, kwargs)
        if nul is not None:
            return error(request, 422, "invalid", f"{nul} contains a NUL character (\\x00).")
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = response["Allow"]
            json_response = error(
                request,
                405,
                "method_not_allowed",
                f"{request.method} is not allowed here; use {allowed}.",
            )
            json_response["Allow"] = allowed
            return json_response
        return response

    wrapper.csrf_exempt = True  # type: ignore[attr-defined]
    return wrapper


def _nul_in_url(request: HttpRequest, path_values: dict[str, Any]) -> str | None:
    """Which part of the URL carries a NUL, which no text column can store (PostgreSQL refuses
    it): the request is refused before it reaches a query."""
    for name, value in path_values.items():
        if "\x00" in str(value):
            return f"The path parameter “{name}”"
    for name, values in request.GET.lists():
        if "\x00" in name or any("\x00" in value for value in values):
            return f"The query parameter “{name.replace(chr(0), '')}”"
    return None


def unknown_route(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    return error(
        request,
        404,
        "not_found",
        f"There is no API route at {request.path}. See {reverse('api:openapi-view')}.",
    )


unknown_route.csrf_exempt = True  # type: ignore[attr-defined]


api = CentroAPI(
    title="Centro API",
    version="1",
    description=(
        "Send a tenant API token as `Authorization: Bearer <token>`. Errors are "
        '`{"error": {"code": ..., "message": ...}}`.'
    ),
    urls_namespace="api",
    auth=TokenAuth(),
    docs=OfflineSwagger(),
    docs_url="/docs",
)


def error(request: HttpRequest, status: int, code: str, message: str, **extra: Any) -> HttpResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    body.update(extra)
    return api.create_response(request, {"error": body}, status=status)


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = error(
        request,
        401,
        "unauthenticated",
        "Send a valid, unrevoked API token as 'Authorization: Bearer <token>'.",
    )
    response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


@api.exception_handler(MultiPartParserError)
def on_unreadable_multipart(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
    return error(
        request,
        400,
        "bad_request",
        f"The multipart body cannot be read ({exc}). Send it as multipart/form-data with the "
        "boundary in the Content-Type header, as HTTP clients do for file uploads.",
    )


@api.exception_handler(DataError)
def on_unstorable_value(request: HttpRequest, exc: DataError) -> HttpResponse:
    """PostgreSQL refused a value the request carried (a number out of range, a NUL in text):
    the request was wrong, not the server; the transaction it ran in is rolled back."""
    logger.warning("API request with an unstorable value on %s: %s", request.path, exc)
    return error(
        request,
        422,
        "invalid",
        "A value in the request cannot be stored (a number out of range, or text with a NUL "
        "character).",
    )


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return error(request, 422, "invalid", "The request is not valid.", details=exc.errors)


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    codes = {400: "bad_request", 403: "forbidden", 404: "not_found", 409: "conflict"}
    return error(request, exc.status_code, codes.get(exc.status_code, "error"), str(exc))


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error(request, 404, "not_found", str(exc) or "Not found.")


@api.exception_handler(PermissionDenied)
def on_forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    record_refusal(
        AuditEvent.Action.PERMISSION_DENIED,
        request=request,
        tenant=getattr(request, "tenant", None),
        data={"permission": getattr(exc, "codename", None)},
    )
    if isinstance(exc, MissingPermission):
        return error(request, 403, "forbidden", str(exc), permission=exc.codename)
    return error(request, 403, "forbidden", str(exc) or "Forbidden.")


@api.exception_handler(ActionError)
def on_action_error(request: HttpRequest, exc: ActionError) -> HttpResponse:
    response = error(request, ACTION_ERROR_STATUS.get(exc.code, 400), exc.code, exc.message)
    if exc.retry_after is not None:
        response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(Exception)
def on_unexpected_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.error("Unhandled API error on %s %s", request.method, request.path, exc_info=exc)
    return error(request, 500, "server_error", "Something went wrong on our side.")


# --- Permissions ---------------------------------------------------------------------------------


def require_api_permission(request: HttpRequest, codename: str) -> None:
    """The API's counterpart of ``require_permission``: 403 naming what is missing."""
    if not permissions.is_known(codename):
        raise RuntimeError(f"API route requires an undeclared permission {codename!r}.")
    if codename not in request.api_token.role.codenames():
        raise MissingPermission(
            f"This token's role ({request.api_token.role.name}) lacks “{codename}”.",
            codename=codename,
        )


def permission_required(codename: str) -> Callable:
    """Route decorator (under ``@api.get`` and friends): the token's role must hold ``codename``."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            require_api_permission(request, codename)
            return view(request, *args, **kwargs)

        wrapper.required_permission = codename  # type: ignore[attr-defined]
        wrapper.__doc__ = f"{(view.__doc__ or '').strip()}\n\nNeeds the `{codename}` permission."
        return wrapper

    return decorator


# --- Input, pages and documented errors -----------------------------------------------------------


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    return type(value).__name__


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    return False


class ApiInput(Schema):
    """The base of every request body (and object inside one): it must be a JSON object.

    ninja's ``Schema`` reads any value through attribute access (to accept ORM objects), so a
    body of ``"AAA"`` or ``[null]`` would otherwise pass as an object whose fields are all
    missing: an all-optional schema would then mean "change nothing" or "match everything"."""

    @model_validator(mode="before")
    @classmethod
    def _must_be_an_object(cls, data: Any) -> Any:
        value = data._obj if isinstance(data, DjangoGetter) else data
        if not isinstance(value, dict | BaseModel):
            raise ValueError(f"must be a JSON object, not {_json_type(value)}")
        if isinstance(value, dict) and _has_nul(value):
            # No text column can store it (PostgreSQL refuses NUL), wherever it is nested.
            raise ValueError("text cannot contain NUL characters (\\u0000)")
        return data


# Past this an offset means nothing (no tenant has ten million rows of one kind) and a larger
# one does not fit PostgreSQL's bigint.
MAX_OFFSET = 10_000_000


@lru_cache
def _page_input(max_limit: int) -> type[Schema]:
    class Input(Schema):
        limit: int = Field(
            min(100, max_limit), ge=1, le=max_limit, description=f"1 to {max_limit}."
        )
        offset: int = Field(0, ge=0, le=MAX_OFFSET, description=f"0 to {MAX_OFFSET:,}.")

    return Input


class Paginated(LimitOffsetPagination):
    """``limit`` / ``offset`` pages whose bounds are in the schema, so a value out of range
    answers 422 instead of reaching the database; the page is ``{"items": [...], "count": N}``."""

    def __init__(self, *, max_limit: int = 200, **kwargs: Any) -> None:
        super().__init__(max_limit=max_limit, **kwargs)
        self.Input = _page_input(max_limit)


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string", "description": "What went wrong, for a person."},
            },
            "additionalProperties": True,
        }
    },
}
ERROR_DESCRIPTIONS = {
    400: "Bad request: a body that is not JSON, or a request a rule refuses (the message says "
    "which).",
    401: "No valid API token (missing, unknown or revoked).",
    403: "The token's role lacks a permission this request needs (`error.permission`).",
    404: "No such row in this tenant (another tenant's id answers the same).",
    409: "Conflict: the row's state does not allow this, or a concurrent request holds it.",
    413: "Too large.",
    422: "Invalid input: `error.details` or `error.errors` say which field and why.",
    429: "Too many messages to this contact for now: see the Retry-After header.",
}


def error_responses(*statuses: int) -> dict[str, Any]:
    """``openapi_extra`` for a route that can also answer ``statuses`` (beyond those
    :func:`document_error_responses` adds to every operation that can have them)."""
    return {"responses": {status: _error_response(status) for status in statuses}}


def _error_response(status: int) -> dict[str, Any]:
    return {
        "description": ERROR_DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _statuses_of(operation: Any, details: dict[str, Any]) -> set[int]:
    """The error statuses any operation of this shape can answer."""
    writes = bool(WRITE_METHODS & set(operation.methods))
    statuses = {401}  # every route needs a token
    if getattr(operation.view_func, "required_permission", None) or writes:
        statuses.add(403)  # the route's permission, or one its action checks
    parameters = details.get("parameters", [])
    has_body = "requestBody" in details
    if parameters or has_body:
        statuses |= {400, 422}
    if has_body or any(p.get("in") == "path" for p in parameters):
        statuses.add(404)  # ids in the path or the body
    if writes:
        statuses.add(409)
    return statuses


def document_error_responses(api: NinjaAPI, schema: OpenAPISchema) -> None:
    """Add the error statuses each operation can answer, all of the ``{"error": ...}`` shape
    (component ``Error``), to the OpenAPI document; a route declares rarer ones itself with
    ``openapi_extra=error_responses(...)``."""
    by_id = {}
    for router in api._get_bound_routers():
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                by_id[operation.operation_id or api.get_openapi_operation_id(operation)] = operation
    schema["components"].setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for methods in schema["paths"].values():
        for details in methods.values():
            operation = by_id.get(details.get("operationId"))
            if operation is None:
                continue
            responses = details.setdefault("responses", {})
            for status in sorted(_statuses_of(operation, details)):
                responses.setdefault(status, _error_response(status))


# --- Idempotency ---------------------------------------------------------------------------------

# A key is claimed for a short while before acting; once the row exists the key maps to it for a
# day. A crashed request frees its key when the claim expires.
IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_TTL = 24 * 3600
IDEMPOTENCY_CLAIM_TTL = 120
IN_PROGRESS = "in-progress"


def idempotency_cache_key(tenant_id: int, scope: str, key: str) -> str:
    """Where ``key`` of a tenant lives in the cache; ``scope`` keeps apps' keys apart."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{scope}:idempotency:t{tenant_id}:{digest}"


def _row_index_key(tenant_id: int, scope: str, row_id: int) -> str:
    """Which Idempotency-Key led to row ``row_id`` (so erasing the row can forget the key)."""
    return f"{scope}:idempotency-row:t{tenant_id}:{row_id}"


def forget_idempotency_keys(tenant_id: int, scope: str, row_ids: Iterable[int]) -> int:
    """Drop the Idempotency-Key mappings that lead to these rows (a GDPR erasure: the mapping
    is about the person); a repeat of such a request then counts as a new one. How many."""
    ids = list(row_ids)
    forgotten = 0
    for start in range(0, len(ids), 1000):
        index = [_row_index_key(tenant_id, scope, pk) for pk in ids[start : start + 1000]]
        found = cache.get_many(index)
        cache.delete_many([*found.values(), *index])
        forgotten += len(found)
    return forgotten


def idempotent(
    request: HttpRequest,
    *,
    scope: str,
    fingerprint: Any,
    act: Callable[[], Any],
    load: Callable[[int], Any],
    status: int = 201,
) -> HttpResponse | Status:
    """``act()`` once per ``Idempotency-Key`` header: ``(status, load(row.pk))`` the first time,
    ``(200, load(pk))`` for a repeat within a day, which does nothing.

    ``act`` returns the row it created or changed; ``load`` turns an id back into the response
    body (``None`` when the row is gone). Without the header ``act`` simply runs. The same key
    for a different request (path + ``fingerprint``) answers 422; a repeat while the first is
    still running, 409. The key → id map lives in the cache (Redis), claimed with an atomic
    ``add``.
    """
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return Status(status, load(act().pk))
    if not key.strip() or len(key) > 255 or not key.isprintable():
        return error(
            request,
            400,
            "invalid",
            f"The {IDEMPOTENCY_HEADER} header must be 1 to 255 printable characters.",
        )
    cache_key = idempotency_cache_key(request.tenant.pk, scope, key)
    request_hash = hashlib.sha256(
        json.dumps([request.path, fingerprint], sort_keys=True, default=str).encode()
    ).hexdigest()
    if cache.add(cache_key, {"state": IN_PROGRESS, "hash": request_hash}, IDEMPOTENCY_CLAIM_TTL):
        try:
            row = act()
        except BaseException:
            cache.delete(cache_key)  # nothing was done: the client may retry with the same key
            raise
        cache.set_many(
            {
                cache_key: {"id": row.pk, "hash": request_hash},
                _row_index_key(request.tenant.pk, scope, row.pk): cache_key,
            },
            IDEMPOTENCY_TTL,
        )
        return Status(status, load(row.pk))
    stored = cache.get(cache_key) or {}
    if stored.get("hash") not in (None, request_hash):
        return error(
            request,
            422,
            "idempotency_key_reused",
            f"This {IDEMPOTENCY_HEADER} was used for a different request; use a new key.",
        )
    row_id = stored.get("id")
    if row_id is None:
        return error(
            request,
            409,
            "conflict",
            f"A request with this {IDEMPOTENCY_HEADER} is still being processed; retry shortly.",
        )
    body = load(row_id)
    if body is None:
        return error(
            request,
            409,
            "conflict",
            f"What the request with this {IDEMPOTENCY_HEADER} made no longer exists; use a "
            "new key.",
        )
    return Status(200, body)


# --- Schemas -------------------------------------------------------------------------------------


class TenantOut(Schema):
    id: int
    name: str
    slug: str
    timezone: str


class TokenOut(Schema):
    id: int
    name: str
    role: str


class MeOut(Schema):
    tenant: TenantOut
    token: TokenOut
    permissions: list[str]


class ApiTokenOut(Schema):
    id: int
    name: str
    role: str = Field(..., alias="role.name")
    hint: str = Field(..., description="The token's first characters, to recognise it.")
    created_by: str | None = Field(None, alias="created_by.email")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    active: bool = Field(..., alias="is_active")


class ApiTokenIn(ApiInput):
    name: str = Field(..., min_length=1, max_length=100)
    role: str = Field(
        BuiltinRole.AGENT.value,
        description="A role of the tenant: built-in (owner, agent…) or custom. Default: agent.",
    )


class ApiTokenCreatedOut(Schema):
    token: ApiTokenOut
    api_token: str = Field(..., description="The raw token. It is shown this once only.")


class AuditEventOut(Schema):
    id: int
    action: str
    action_label: str
    actor: str | None = Field(None, alias="actor.email")
    actor_token_id: int | None
    target_type: str
    target_id: str
    target_repr: str
    ip_address: str | None
    data: dict[str, Any]
    created_at: datetime

    @staticmethod
    def resolve_action_label(event: AuditEvent) -> str:
        return event.action_label


# --- Routes --------------------------------------------------------------------------------------


@api.get("/me", response=MeOut, summary="The tenant and permissions of the calling token")
def me(request: HttpRequest) -> dict:
    token: ApiToken = request.api_token
    return {
        "tenant": token.tenant,
        "token": {"id": token.pk, "name": token.name, "role": token.role.name},
        "permissions": sorted(token.role.codenames()),
    }


@api.get(
    "/audit-events",
    response=list[AuditEventOut],
    summary="The tenant's audit trail, newest first",
)
@permission_required("audit.view")
@paginate(Paginated, max_limit=200)
def audit_event_list(request: HttpRequest):
    """Security-relevant changes in the tenant and its members' sign-ins."""
    return audit_events_for_tenant(request.tenant).order_by("-created_at", "-id")


def _tokens(request: HttpRequest):
    return ApiToken.objects.filter(tenant=request.tenant).select_related("role", "created_by")


@api.get("/tokens", response=list[ApiTokenOut], summary="The tenant's API tokens")
@permission_required("api_tokens.manage")
@paginate(Paginated, max_limit=200)
def token_list(request: HttpRequest):
    """Tokens are listed with their hint; the token itself is never shown again."""
    return _tokens(request).order_by("-created_at", "-id")


@api.post(
    "/tokens",
    response={201: ApiTokenCreatedOut},
    summary="Create an API token (the raw value is in this response only)",
)
@permission_required("api_tokens.manage")
def token_create(request: HttpRequest, payload: ApiTokenIn):
    """A token never holds more permissions than the token that creates it."""
    wanted = payload.role.strip()
    role = (
        Role.objects.filter(tenant=request.tenant)
        .filter(Q(builtin=wanted.lower()) | Q(name__iexact=wanted))
        .order_by("-builtin")
        .first()
    )
    if role is None:
        raise ActionError(f"There is no role “{wanted}” in this tenant.")
    token, raw = do_create_api_token(
        request.tenant,
        name=payload.name,
        role=role,
        acting_token=request.api_token,
        request=request,
    )
    return Status(201, {"token": token, "api_token": raw})


@api.post("/tokens/{token_id}/revoke", response=ApiTokenOut, summary="Revoke an API token")
@permission_required("api_tokens.manage")
def token_revoke(request: HttpRequest, token_id: int):
    """Requests with the token fail with 401 from now on. Revoking twice is harmless."""
    token = get_in_tenant(_tokens(request), request.tenant, pk=token_id)
    do_revoke_api_token(token, acting_token=request.api_token, request=request)
    return token


_mounted = False


def mount_app_routers() -> None:
    """Attach the routers every app lists as ``ROUTERS`` in its ``api`` module, apps in
    ``INSTALLED_APPS`` order; called once by the URLconf.

    Apps import helpers from this module, so mounting cannot happen at its import time; and the
    core imports no product app, so it finds their routers the way it finds their permissions.
    """
    global _mounted
    if _mounted:
        return
    for module in app_modules("api"):
        for router in getattr(module, "ROUTERS", []):
            api.add_router("/", router)
    _mounted = True
