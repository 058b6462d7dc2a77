"""Which anymail webhook views read an email inbox's webhooks, built with its secrets.

anymail has one inbound and one tracking view per ESP; Centro builds the ESP's view for each
request with that inbox's own secrets (the basic-auth ``webhook_secret``, plus the ESP's
signing key where it signs, as Mailgun does), so tenants never share the global ``ANYMAIL``
settings. The same view verifies a live request and parses it (a replay too).
"""

import warnings

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from inbox.models import Inbox
from inbox.providers.anymail.credentials import SIGNING_KEY_ESPS
from omnichannel.outbound import UnsafeURL, check_public_url

# ESP -> (inbound view, tracking view), anymail's classes.
WEBHOOK_VIEWS: dict[str, tuple[str, str]] = {
    "postmark": (
        "anymail.webhooks.postmark.PostmarkInboundWebhookView",
        "anymail.webhooks.postmark.PostmarkTrackingWebhookView",
    ),
    "mailgun": (
        "anymail.webhooks.mailgun.MailgunInboundWebhookView",
        "anymail.webhooks.mailgun.MailgunTrackingWebhookView",
    ),
    "sendgrid": (
        "anymail.webhooks.sendgrid.SendGridInboundWebhookView",
        "anymail.webhooks.sendgrid.SendGridTrackingWebhookView",
    ),
    "brevo": (
        # Its attachment download goes through the SSRF guard (see the module).
        "inbox.providers.anymail.brevo.BrevoInboundWebhookView",
        "anymail.webhooks.brevo.BrevoTrackingWebhookView",
    ),
    "mailjet": (
        "anymail.webhooks.mailjet.MailjetInboundWebhookView",
        "anymail.webhooks.mailjet.MailjetTrackingWebhookView",
    ),
}
# Credentials an ESP's inbound view needs besides the secrets (Brevo fetches attachments
# from its API).
INBOUND_VIEW_OPTIONS = {"brevo": ("api_key", "api_url")}


class WebhookNotConfigured(Exception):
    """The inbox cannot authenticate this webhook (no secret, or an ESP without webhooks)."""


def webhook_esp(inbox: Inbox) -> str:
    """The ESP that posts this inbox's webhooks: ``webhook_esp`` (e.g. an SMTP inbox whose
    mail arrives through Mailgun), else the sending ESP."""
    credentials = inbox.get_credentials()
    return str(credentials.get("webhook_esp") or credentials.get("esp") or "")


def webhook_view(inbox: Inbox, kind: str):
    """anymail's webhook view for ``inbox``'s ESP and ``kind``, holding the inbox's secrets."""
    credentials = inbox.get_credentials()
    esp = webhook_esp(inbox)
    if esp not in WEBHOOK_VIEWS:
        raise WebhookNotConfigured(
            f"This inbox's ESP “{esp or 'none'}” has no anymail webhooks; set webhook_esp to "
            f"one of {', '.join(WEBHOOK_VIEWS)}."
        )
    secret = credentials.get("webhook_secret") or ""
    if not secret:
        raise WebhookNotConfigured(
            "This inbox has no webhook secret, so no request can be trusted."
        )
    options: dict = {"webhook_secret": secret}
    if esp in SIGNING_KEY_ESPS:
        key = credentials.get("webhook_signing_key") or credentials.get("api_key")
        if not key:
            raise WebhookNotConfigured(f"This {esp} inbox has no webhook_signing_key.")
        options["webhook_signing_key"] = key
    if kind == "inbound":
        for key in INBOUND_VIEW_OPTIONS.get(esp, ()):
            if credentials.get(key):
                options[key] = credentials[key]
        if "api_url" in options:
            try:
                check_public_url(options["api_url"])
            except UnsafeURL as exc:
                raise WebhookNotConfigured(f"The {esp} API URL is not allowed: {exc}") from exc
    path = WEBHOOK_VIEWS[esp][0 if kind == "inbound" else 1]
    try:
        view_class = import_string(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return view_class(**options)
    except (ImportError, ImproperlyConfigured) as exc:
        raise WebhookNotConfigured(f"The {esp} webhook cannot be used here: {exc}") from exc
