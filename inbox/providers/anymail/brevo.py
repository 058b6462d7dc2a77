"""anymail webhook views that Centro adjusts (named in ``inbox.webhooks.anymail.WEBHOOK_VIEWS``)."""

from urllib.parse import quote, urljoin

import requests
from anymail.inbound import AnymailInboundMessage
from anymail.webhooks.brevo import BrevoInboundWebhookView as AnymailBrevoInboundView
from django.conf import settings

from omnichannel.outbound import guard_session

ATTACHMENT_TIMEOUT = (5.0, 30.0)  # connect, read


class BrevoInboundWebhookView(AnymailBrevoInboundView):
    """anymail's Brevo inbound view, whose attachment download (from the inbox's API URL, the
    tenant's to choose) goes through the SSRF guard on every hop, with a timeout, and stops
    reading past the email webhook limit (the attachment is then stored as too large)."""

    def _fetch_attachment(self, attachment):
        url = urljoin(
            self.api_url, f"inbound/attachments/{quote(attachment['DownloadToken'], safe='')}"
        )
        limit = settings.EMAIL_WEBHOOK_MAX_BYTES
        with (
            guard_session(requests.Session()) as session,
            session.get(
                url, headers={"api-key": self.api_key}, timeout=ATTACHMENT_TIMEOUT, stream=True
            ) as response,
        ):
            response.raise_for_status()
            content = response.raw.read(limit + 1, decode_content=True)
            content_type = response.headers.get("Content-Type") or attachment["ContentType"]
        return AnymailInboundMessage.construct_attachment(
            content_type=content_type,
            content=content,
            filename=attachment.get("Name"),
            content_id=attachment.get("ContentID"),
        )
