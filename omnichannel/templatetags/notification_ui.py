"""Template filters of the notification centre."""

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()


@register.filter
def ago(value: datetime) -> str:
    """How long ago, in words: "just now" within the minute, else "5 minutes ago" (the
    same whatever the reader's time zone)."""
    if timezone.now() - value < timedelta(minutes=1):
        return "just now"
    return f"{timesince(value)} ago"
