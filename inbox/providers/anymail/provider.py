"""Email through django-anymail: one ESP account (or SMTP server) per inbox.

The ESP and its secrets live in the inbox's encrypted credentials, e.g.
``{"esp": "postmark", "server_token": "…", "api_url": "…"}`` or
``{"esp": "smtp", "host": "…", "port": 587, "username": "…", "password": "…", "use_tls": true}``,
plus the webhook secrets (``webhook_secret`` "user:password" for anymail's basic auth, and
``webhook_signing_key`` where the ESP signs its webhooks, as Mailgun does). Every send builds its
own backend instance from those settings, the way Django 6.1's ``mail.mailers`` builds a
``MAILERS`` entry (``backend_class(alias=…, **OPTIONS)``; ``get_connection(backend, …)`` is
deprecated and refused once ``MAILERS`` is set, and ``MAILERS`` is global so it cannot hold one
account per tenant): tenants never share the global ``ANYMAIL`` settings. Tenant-chosen API
URLs and SMTP hosts pass the SSRF guard (``omnichannel.outbound``) before each send, and again
on each connection the backend opens (ESP API redirects included), as do media URLs.
"""

import functools
import re
import smtplib
import uuid
from email.utils import formataddr
from urllib.parse import urljoin

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import default_storage
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils.html import linebreaks
from django.utils.module_loading import import_string

from inbox.models import Message
from inbox.providers.anymail.credentials import AnymailCredentials, esp_choices
from inbox.providers.base import (
    Capabilities,
    InboxProvider,
    OutboundMessage,
    ProviderError,
    ProviderResult,
    Unverified,
)
from omnichannel.channels import Channel
from omnichannel.outbound import (
    DownloadError,
    UnsafeURL,
    check_public_url,
    download,
    guard_session,
)

DEFAULT_TIMEOUT_SECONDS = 20
DEFAULT_BRAND_COLOR = "#2563eb"


class Esp:
    """An ESP anymail supports: its backend, the credentials it needs and may take."""

    def __init__(self, label: str, backend: str, required=(), optional=()) -> None:
        self.label, self.backend = label, backend
        self.required, self.optional = tuple(required), tuple(optional)


ESPS: dict[str, Esp] = {
    "smtp": Esp(
        "SMTP server",
        # Django's SMTP backend, connecting only to addresses the SSRF guard allows.
        "omnichannel.outbound.SMTPBackend",
        ("host",),
        ("port", "username", "password", "use_tls", "use_ssl", "timeout"),
    ),
    "postmark": Esp(
        "Postmark", "anymail.backends.postmark.EmailBackend", ("server_token",), ("api_url",)
    ),
    "mailgun": Esp(
        "Mailgun",
        "anymail.backends.mailgun.EmailBackend",
        ("api_key",),
        ("api_url", "sender_domain"),
    ),
    "sendgrid": Esp(
        "SendGrid", "anymail.backends.sendgrid.EmailBackend", ("api_key",), ("api_url",)
    ),
    "brevo": Esp("Brevo", "anymail.backends.brevo.EmailBackend", ("api_key",), ("api_url",)),
    "mailjet": Esp(
        "Mailjet",
        "anymail.backends.mailjet.EmailBackend",
        ("api_key", "secret_key"),
        ("api_url",),
    ),
    # anymail's own test backend (django.core.mail.outbox); tests and DEBUG only.
    "test": Esp("Anymail test backend", "anymail.backends.test.EmailBackend"),
}
# Credentials that are ours (webhooks), never handed to a backend.
WEBHOOK_KEYS = ("webhook_secret", "webhook_signing_key")


def new_message_id(address: str) -> str:
    """A fresh RFC 5322 Message-ID on the inbox's domain."""
    domain = address.rpartition("@")[2] or "centro.local"
    return f"<{uuid.uuid4().hex}@{domain}>"


HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?$")


def brand_of(inbox) -> dict:
    color = str(inbox.option("brand_color", DEFAULT_BRAND_COLOR))
    return {
        "brand_color": color if HEX_COLOR.match(color) else DEFAULT_BRAND_COLOR,
        "logo_url": inbox.option("logo_url", ""),
        "brand_name": inbox.option("from_name", "") or inbox.tenant.name,
        "footer": inbox.option("email_footer", ""),
    }


def render_html(inbox, message: OutboundMessage) -> str:
    """The message's HTML in the tenant's branded wrapper (logo, colour, footer)."""
    content = message.body_html or linebreaks(message.body)
    return render_to_string(
        "inbox/email/outbound.html",
        {"content": content, "subject": message.subject, **brand_of(inbox)},
    )


@functools.cache
def _guarded(backend_class: type) -> type:
    """``backend_class``, its ESP API session going through the SSRF guard (every connection,
    redirects included); anymail builds that session in ``create_session``."""
    from anymail.backends.base_requests import AnymailRequestsBackend

    if not issubclass(backend_class, AnymailRequestsBackend):
        return backend_class

    def create_session(self):
        return guard_session(super(guarded, self).create_session())

    guarded = type(backend_class.__name__, (backend_class,), {"create_session": create_session})
    return guarded


class AnymailProvider(InboxProvider):
    key = "anymail"
    label = "Email (anymail)"
    kinds = (Channel.EMAIL,)
    credentials = AnymailCredentials()
    webhooks = "inbox.webhooks.anymail"
    capabilities = Capabilities(media=True)

    def esp(self) -> tuple[str, Esp]:
        name = str(self._credentials().get("esp") or "")
        esp = ESPS.get(name)
        if esp is None or name not in dict(esp_choices()):
            raise ProviderError(
                f"This email inbox's ESP “{name}” is not supported; ask an admin to set one of "
                f"{', '.join(n for n in ESPS if n != 'test')}.",
                code="credentials",
                permanent=True,
            )
        return name, esp

    def connection(self):
        """A backend instance for this inbox's own account (checked against SSRF)."""
        name, esp = self.esp()
        creds = self._credentials()
        missing = [key for key in esp.required if not creds.get(key)]
        if missing:
            raise ProviderError(
                f"This inbox's {esp.label} settings lack {', '.join(missing)}; ask an admin.",
                code="credentials",
                permanent=True,
            )
        options = {
            k: creds[k] for k in (*esp.required, *esp.optional) if creds.get(k) not in (None, "")
        }
        try:
            if "api_url" in options:
                check_public_url(str(options["api_url"]))
            if name == "smtp":
                options["port"] = int(options.get("port") or 25)
                options.setdefault("timeout", DEFAULT_TIMEOUT_SECONDS)
                check_public_url(f"http://{options['host']}:{options['port']}/")
        except UnsafeURL as exc:
            raise ProviderError(
                f"This inbox's email server is not allowed: {exc}",
                code="unsafe_url",
                permanent=True,
            ) from exc
        except (TypeError, ValueError) as exc:
            raise ProviderError(
                f"This inbox's SMTP port is not a number: {exc}", code="credentials", permanent=True
            ) from exc
        try:
            return _guarded(import_string(esp.backend))(
                alias=f"inbox-{self.inbox.pk}", fail_silently=False, **options
            )
        except (ImproperlyConfigured, ImportError) as exc:
            raise ProviderError(
                f"{esp.label} cannot be used: {exc}", code="credentials", permanent=True
            ) from exc

    def prepare(self) -> None:
        self.esp()

    def verify(self, request, event_type: str = "") -> bool:
        """anymail's own validation for the inbox's ESP (basic auth, and the ESP's signature
        where it signs); ``Unverified`` says what failed."""
        from anymail.exceptions import AnymailWebhookValidationFailure

        from inbox.providers.anymail.esps import WebhookNotConfigured, webhook_view

        try:
            view = webhook_view(self.inbox, event_type)
        except WebhookNotConfigured as exc:
            raise Unverified(str(exc)) from exc
        try:
            view.run_validators(request)
        except AnymailWebhookValidationFailure as exc:
            raise Unverified(f"Webhook authentication failed: {exc}") from exc
        except Exception as exc:
            # e.g. Mailgun's signature fields that are not ASCII: not verifiable, so not
            # authentic.
            raise Unverified(
                "Webhook authentication failed: the signature could not be checked "
                f"({type(exc).__name__})."
            ) from exc
        return True

    def check_connection(self) -> str:
        """Log in to the SMTP server, or make one authenticated read of the ESP's API (who
        the key belongs to); a sentence for the admin, ``ProviderError`` when it fails."""
        name, esp = self.esp()
        connection = self.connection()
        if name == "test":
            return "anymail's test backend: nothing leaves this machine."
        if name == "smtp":
            try:
                connection.open()
                connection.close()
            except (OSError, smtplib.SMTPException, UnsafeURL) as exc:
                raise ProviderError(
                    f"The mail server did not accept the connection: {_first_line(exc)}",
                    code="network",
                    permanent=False,
                ) from exc
            return f"Logged in to the SMTP server {connection.host}:{connection.port}."
        path, headers, auth = _account_probe(name, self._credentials())
        import requests

        connection.open()
        try:
            response = connection.session.get(
                urljoin(connection.api_url, path),
                headers=headers,
                auth=auth,
                timeout=DEFAULT_TIMEOUT_SECONDS,
            )
        except (requests.RequestException, UnsafeURL) as exc:
            raise ProviderError(
                f"{esp.label} could not be reached: {_first_line(exc)}",
                code="network",
                permanent=False,
            ) from exc
        finally:
            connection.close()
        if response.status_code >= 400:
            raise ProviderError.from_http_status(response.status_code, service=esp.label)
        return f"{esp.label} accepted this inbox's credentials."

    # --- sending ------------------------------------------------------------------------------

    def build_email(self, message: OutboundMessage) -> EmailMultiAlternatives:
        from_name = self.inbox.option("from_name", "") or self.inbox.tenant.name
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.body,
            from_email=formataddr((from_name, self.inbox.address)),
            to=[message.recipient],
            cc=list(message.cc),
            bcc=list(message.bcc),
            headers=dict(message.headers),
        )
        email.attach_alternative(render_html(self.inbox, message), "text/html")
        attached = set()
        for file in message.files:
            attached.add(file.name)
            with default_storage.open(file.name, "rb") as handle:
                email.attach(
                    file.filename or "attachment",
                    handle.read(),
                    file.content_type or "application/octet-stream",
                )
        for url in message.media_urls:
            name, data, content_type = _media(url, attached)
            if data is not None:
                email.attach(name, data, content_type)
        return email

    def send(self, message: OutboundMessage) -> ProviderResult:
        name, esp = self.esp()
        connection = self.connection()
        email = self.build_email(message)
        try:
            sent = connection.send_messages([email])
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            detail = "; ".join(
                f"{address}: {code} {_text(text)}"
                for address, (code, text) in exc.recipients.items()
            )
            permanent = all(code >= 500 for code in codes)
            raise ProviderError(
                f"The mail server refused the recipient ({detail}).",
                code=f"smtp_{codes[0] if codes else ''}",
                permanent=permanent,
            ) from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise ProviderError(
                "The mail server rejected this inbox's username or password; ask an admin.",
                code=f"smtp_{exc.smtp_code}",
                permanent=True,
            ) from exc
        except smtplib.SMTPResponseException as exc:  # sender refused, data refused…
            raise ProviderError(
                f"The mail server answered {exc.smtp_code}: {_text(exc.smtp_error)}",
                code=f"smtp_{exc.smtp_code}",
                permanent=exc.smtp_code >= 500,
            ) from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            if _is_anymail_error(exc):
                raise self._anymail_error(esp, exc) from exc
            raise ProviderError(
                f"The mail server could not be reached ({type(exc).__name__}); retrying.",
                code="network",
                permanent=False,
            ) from exc
        except UnsafeURL as exc:  # an address the host resolves to now, or a redirect's
            raise ProviderError(
                f"This inbox's email server is not allowed: {exc}",
                code="unsafe_url",
                permanent=True,
            ) from exc
        except Exception as exc:
            if _is_anymail_error(exc):
                raise self._anymail_error(esp, exc) from exc
            raise
        if not sent:
            raise ProviderError(
                f"{esp.label} did not accept the message.", code="api", permanent=False
            )
        return ProviderResult(
            provider_message_id=self._provider_id(name, email, message),
            status=Message.Status.SENT,
            raw={"esp": name},
        )

    def _provider_id(self, name: str, email, message: OutboundMessage) -> str:
        status = getattr(email, "anymail_status", None)
        esp_id = getattr(status, "message_id", None) if status is not None else None
        if name in ("smtp", "test") or not isinstance(esp_id, str) or not esp_id:
            return message.headers.get("Message-ID", "").strip("<>")[:100]
        return esp_id.strip("<>")[:100]

    def _anymail_error(self, esp: Esp, exc: Exception) -> ProviderError:
        from anymail.exceptions import (
            AnymailAPIError,
            AnymailConfigurationError,
            AnymailRecipientsRefused,
        )

        if isinstance(exc, AnymailRecipientsRefused):
            return ProviderError(
                f"{esp.label} refused the recipient: {exc}"[:500],
                code="recipient_refused",
                permanent=True,
                opt_out=True,
            )
        if isinstance(exc, AnymailConfigurationError):
            return ProviderError(
                f"{esp.label} is misconfigured: {exc}"[:500], code="credentials", permanent=True
            )
        status = getattr(exc, "status_code", None)
        if isinstance(exc, AnymailAPIError) and status:
            response = getattr(exc, "response", None)
            retry_after = None
            if response is not None and response.headers.get("Retry-After", "").isdigit():
                retry_after = float(response.headers["Retry-After"])
            return ProviderError.from_http_status(
                status, service=esp.label, detail=_first_line(exc), retry_after=retry_after
            )
        # No HTTP status: the ESP could not be reached (timeouts, connection errors).
        return ProviderError(
            f"{esp.label} could not be reached ({_first_line(exc)}); retrying."[:500],
            code="network",
            permanent=False,
        )


def _account_probe(name: str, credentials: dict) -> tuple[str, dict, tuple | None]:
    """A read-only API route that needs the ESP credentials: (path, headers, basic auth)."""
    key = credentials.get("api_key", "")
    if name == "postmark":
        return "server", {"X-Postmark-Server-Token": credentials.get("server_token", "")}, None
    if name == "mailgun":
        return "domains", {}, ("api", key)
    if name == "sendgrid":
        return "scopes", {"Authorization": f"Bearer {key}"}, None
    if name == "brevo":
        return "account", {"api-key": key}, None
    return "/v3/REST/apikey", {}, (key, credentials.get("secret_key", ""))  # mailjet


MAX_MEDIA_BYTES = 20 * 1024 * 1024
MEDIA_TIMEOUT_SECONDS = 20


def _media(url: str, attached: set[str]) -> tuple[str, bytes | None, str]:
    """``(filename, bytes, content type)`` of a media URL to attach: our own signed links are
    read from storage (None when already attached as a stored file), others are downloaded
    through the private-address guard. Raises ProviderError when it cannot be had."""
    import mimetypes
    import posixpath
    from urllib.parse import urlsplit

    from django.core.files.storage import default_storage

    from inbox.actions.uploads import path_for_link

    parts = urlsplit(url)
    own = urlsplit(settings.PUBLIC_BASE_URL)
    match = re.fullmatch(r"/m/([^/]+)/", parts.path)
    if match and parts.netloc == own.netloc:
        path = path_for_link(match.group(1))
        if path is None:
            raise ProviderError(
                "An attachment link has expired; attach the file again.",
                code="attachment",
                permanent=True,
            )
        name = posixpath.basename(path)
        if path in attached:
            return name, None, ""
        with default_storage.open(path, "rb") as handle:
            data = handle.read()
        return name, data, mimetypes.guess_type(name)[0] or "application/octet-stream"

    name = posixpath.basename(parts.path) or "attachment"
    try:
        content, content_type = download(url, limit=MAX_MEDIA_BYTES, timeout=MEDIA_TIMEOUT_SECONDS)
    except DownloadError as exc:
        raise ProviderError(
            f"The attachment {name} could not be attached: {exc.message}"
            + (" Retrying." if exc.retryable else ""),
            code="attachment",
            permanent=not exc.retryable,
        ) from exc
    return name, content, content_type or "application/octet-stream"


def _is_anymail_error(exc: Exception) -> bool:
    from anymail.exceptions import AnymailError

    return isinstance(exc, (AnymailError, ImproperlyConfigured))


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
