"""Small presentation helpers for the inbox templates (``{% load inbox_ui %}``).

Relative times are computed here and refreshed in the browser by ``static/inbox/inbox.js``
from each ``<time data-timestamp>``, with the same wording.
"""

import hashlib
import re
from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html, urlize
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

AVATAR_COLOURS = 8

# A link in a message opens in a new tab, tells the site nothing of the inbox, vouches for nothing.
LINK_ATTRS = 'target="_blank" rel="noopener noreferrer nofollow"'

# Outgoing message status → (icon, words, CSS modifier); the icons are omnichannel's ``icon``s.
TICKS = {
    "queued": ("clock", "Sending", "pending"),
    "sending": ("clock", "Sending", "pending"),
    "sent": ("check", "Sent", "sent"),
    "delivered": ("check-double", "Delivered", "delivered"),
    "read": ("check-double", "Read", "read"),
    "failed": ("alert", "Failed", "failed"),
    "undelivered": ("alert", "Not delivered", "failed"),
}


@register.filter
def relative_time(value: datetime | None, now: datetime | None = None) -> str:
    """ "now", "5m ago", "3h ago", "2d ago", then the date ("12 Mar", or "12 Mar 2024")."""
    if value is None:
        return ""
    now = now or timezone.now()
    seconds = max(0, int((now - value).total_seconds()))
    if seconds < 60:
        return "now"
    if seconds < 3600:
        return f"{seconds // 60}m ago"
    if seconds < 86400:
        return f"{seconds // 3600}h ago"
    if seconds < 7 * 86400:
        return f"{seconds // 86400}d ago"
    local = timezone.localtime(value)
    if local.year == timezone.localtime(now).year:
        return date_format(local, "j M")
    return date_format(local, "j M Y")


@register.filter
def day_label(value: datetime) -> str:
    """ "Today", "Yesterday" or "Monday 3 March 2025" in the current time zone."""
    local = timezone.localtime(value).date()
    today = timezone.localtime(timezone.now()).date()
    if local == today:
        return "Today"
    if local == today - timedelta(days=1):
        return "Yesterday"
    return date_format(timezone.localtime(value), "l j F Y")


@register.filter
def system_text(message) -> str:
    """A system line in words: the ISO instant a snooze note keeps in its body (for the API)
    read as a date and time in the current (the viewer's) time zone."""
    until = (message.metadata or {}).get("snoozed_until")
    if not until or until not in message.body:
        return message.body
    moment = timezone.localtime(datetime.fromisoformat(until))
    return message.body.replace(until, date_format(moment, "D j M, H:i"))


@register.filter
def automated_label(message) -> str:
    """The bubble label of a message the system sent to the contact: "Campaign · <its name>"
    (the name it had when it went out, kept in the metadata by the campaign engine; plain
    "Campaign" when it is not there), "Notification", else "Automated"."""
    metadata = message.metadata or {}
    if metadata.get("campaign_id"):
        name = metadata.get("campaign_name")
        return f"Campaign · {name}" if name else "Campaign"
    if metadata.get("notification_id"):
        return "Notification"
    return "Automated"


@register.filter
def initials(value) -> str:
    """Up to two initials of a name (a contact or a user), ``#`` for a bare phone number."""
    name = ""
    if hasattr(value, "get_full_name"):
        name = value.get_full_name() or value.email.split("@")[0]
    elif hasattr(value, "phone"):
        name = value.name or value.email.split("@")[0]
        if not name:
            return "#"
    else:
        name = str(value or "")
    words = [w for w in name.replace(".", " ").replace("_", " ").split() if w[0].isalnum()]
    if not words:
        return "?"
    if len(words) == 1:
        return words[0][:2].upper()
    return (words[0][0] + words[-1][0]).upper()


@register.filter
def avatar_colour(pk: int | None) -> int:
    return (pk or 0) % AVATAR_COLOURS


@register.filter
def user_label(user) -> str:
    return (user.get_full_name() or user.email) if user else ""


@register.filter
def tick(status: str) -> tuple[str, str, str]:
    return TICKS.get(status, ("", status, ""))


@register.filter
def media_kind(attachment) -> str:
    """image, audio, video or file: how the thread shows an attachment."""
    major = (attachment.content_type or "").split("/")[0]
    if attachment.content_type == "image/svg+xml":
        return "file"
    return major if major in ("image", "audio", "video") else "file"


@register.filter
def channel_label(value: str) -> str:
    from omnichannel.channels import Channel

    try:
        return Channel(value).label
    except ValueError:
        return value


class EmailView:
    """How an email message is shown: sanitized HTML (or text) split into the reply and its
    quoted history, the CSS that keeps its formatting (served by ``inbox:message-css``), and
    whether remote images are held back."""

    def __init__(self, message) -> None:
        from django.utils.html import linebreaks
        from django.utils.safestring import mark_safe

        from inbox.email_html import sanitize_email_html, split_quoted_html
        from inbox.email_quotes import split_reply

        metadata = message.metadata or {}
        self.images_allowed = bool(metadata.get("images_allowed"))
        # Either direction: an outbound email has HTML only when its sender gave some (API
        # sends, notifications), and that HTML, not its text part, is what the recipient saw.
        # Agent replies are plain text (their HTML is made at send time), so they stay text.
        self.is_html = bool(message.body_html)
        self.blocked_images = 0
        # The ids of the elements the two halves are shown in: their CSS applies only there.
        self.visible_id = f"email-{message.pk}"
        self.quoted_id = f"email-{message.pk}-quoted"
        self.css = ""
        self.css_version = ""
        self.visible_paper = self.quoted_paper = False
        if self.is_html:
            head, tail = split_quoted_html(message.body_html)
            inline = inline_image_urls(message)
            visible = sanitize_email_html(
                head,
                allow_images=self.images_allowed,
                scope=self.visible_id,
                inline_images=inline,
            )
            quoted = sanitize_email_html(
                tail, allow_images=self.images_allowed, scope=self.quoted_id, inline_images=inline
            )
            self.visible = mark_safe(visible.html)  # noqa: S308  (sanitized by nh3)
            self.quoted = mark_safe(quoted.html)  # noqa: S308
            self.blocked_images = visible.blocked_images + quoted.blocked_images
            self.css = "\n".join(css for css in (visible.css, quoted.css) if css)
            if self.css:
                # In the stylesheet's URL: a new version is a new URL, so browsers may cache.
                self.css_version = hashlib.sha256(self.css.encode()).hexdigest()[:16]
            self.visible_paper, self.quoted_paper = visible.coloured, quoted.coloured
        else:
            head, tail = split_reply(message.body or "")
            # linebreaks escapes the text itself (autoescape=True) and returns a plain str.
            self.visible = mark_safe(linebreaks(head.strip(), autoescape=True))  # noqa: S308
            quoted_text = linebreaks(tail.strip(), autoescape=True) if tail.strip() else ""
            self.quoted = mark_safe(quoted_text)  # noqa: S308
        cc = metadata.get("cc") or []
        self.cc = ", ".join(cc) if isinstance(cc, list) else ""
        # An inbound email from someone other than the conversation's contact (a copied
        # colleague replying in the thread): "Name <address>", escaped by the template.
        self.other_sender = ""
        if message.direction == "in" and metadata.get("other_sender"):
            address = str(metadata.get("from") or "")
            name = str(metadata.get("from_name") or "").strip()
            self.other_sender = f"{name} <{address}>" if name and address else address or name


def inline_image_urls(message) -> dict[str, str]:
    """Content-ID -> URL of the stored image part it names, for the ``cid:`` images of an
    email (from the attachments the thread already loaded)."""
    from django.urls import reverse

    content_ids = (message.metadata or {}).get("content_ids") or {}
    if not isinstance(content_ids, dict) or "cid:" not in (message.body_html or "").lower():
        return {}
    images = {
        attachment.pk
        for attachment in message.attachments.all()
        if attachment.status == "stored" and media_kind(attachment) == "image"
    }
    return {
        str(content_id): reverse("inbox:attachment", args=[pk])
        for content_id, pk in content_ids.items()
        if pk in images
    }


@register.simple_tag
def email_view(message) -> EmailView:
    return EmailView(message)


@register.filter(needs_autoescape=True)
def linkify(text: str, autoescape: bool = True) -> SafeString:
    """A message body with its http(s) URLs and email addresses as links (``urlize``, which
    escapes everything else); the only ``<a href=`` in its escaped output are the links it made,
    so they alone get the new-tab attributes."""
    linked = urlize(text, nofollow=False, autoescape=autoescape)
    return mark_safe(linked.replace("<a href=", f"<a {LINK_ATTRS} href="))  # noqa: S308


@register.filter
def note_body(message) -> SafeString:
    """A private note's text, linked like any body, with the members it mentions marked."""
    names = [name for name in message.metadata.get("mention_names", []) if name]
    if not names:
        return linkify(message.body)
    longest_first = sorted(names, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(name) for name in longest_first), re.IGNORECASE)
    parts, last = [], 0
    for match in pattern.finditer(message.body):
        parts.append(linkify(message.body[last : match.start()]))
        parts.append(format_html('<mark class="mention">{}</mark>', match.group()))
        last = match.end()
    parts.append(linkify(message.body[last:]))
    return mark_safe("".join(parts))  # noqa: S308  (each part is escaped above)
