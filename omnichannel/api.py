"""The JSON API at /api/v1/: tenant API tokens, JSON errors, OpenAPI docs at /api/v1/docs."""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer

from omnichannel.actions import ActionError, authenticate_api_token
from omnichannel.models import ApiToken


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        api_token = authenticate_api_token(token)
        if api_token is not None:
            request.tenant = api_token.tenant
            request.api_token = api_token
        return api_token


api = NinjaAPI(
    title="Centro API",
    version="1",
    urls_namespace="api",
    auth=TokenAuth(),
    docs_url="/docs",
)


def error(request: HttpRequest, status: int, code: str, message: str, **extra: Any) -> HttpResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    body.update(extra)
    return api.create_response(request, {"error": body}, status=status)


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error(
        request,
        401,
        "unauthenticated",
        "Send a valid, unrevoked API token as 'Authorization: Bearer <token>'.",
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
    return error(request, 403, "forbidden", str(exc) or "Forbidden.")


@api.exception_handler(ActionError)
def on_action_error(request: HttpRequest, exc: ActionError) -> HttpResponse:
    status = {"not_found": 404, "forbidden": 403, "conflict": 409, "gone": 410}.get(exc.code, 400)
    return error(request, status, exc.code, exc.message)


def require_api_permission(request: HttpRequest, codename: str) -> None:
    """The API's counterpart of ``require_permission``: 403 naming what is missing."""
    if codename not in request.api_token.role.codenames():
        raise PermissionDenied(
            f"This token's role ({request.api_token.role.name}) lacks “{codename}”."
        )


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


@api.get("/me", response=MeOut, summary="The tenant and permissions of the calling token")
def me(request: HttpRequest) -> dict:
    token: ApiToken = request.api_token
    return {
        "tenant": token.tenant,
        "token": {"id": token.pk, "name": token.name, "role": token.role.name},
        "permissions": sorted(token.role.codenames()),
    }
