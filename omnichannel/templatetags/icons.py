"""The app's icons as inline SVG (``{% load icons %}{% icon "paperclip" %}``).

Emoji and symbol characters drew as empty boxes where no emoji font is installed; an inline
SVG draws the same everywhere, takes the text's colour (``currentColor``) and size (1em), and
needs nothing from the network. Screen readers skip it (``aria-hidden``): the element around
an icon carries the words. The shapes are simple strokes on a 24-unit grid, drawn for Centro.
"""

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

SHAPES = {
    "alert": '<path d="M12 3.5 22 20.5H2Z"/><path d="M12 10v4.5M12 17.5v.01"/>',
    "bell": (
        '<path d="M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9"/>'
        '<path d="M10.3 21a1.94 1.94 0 0 0 3.4 0"/>'
    ),
    "check": '<path d="M4.5 12.5l5 5L19.5 7"/>',
    "check-double": '<path d="M1.5 12.5l5 5L16 7"/><path d="M11 17l.5.5L22 7"/>',
    "clock": '<circle cx="12" cy="12" r="8.5"/><path d="M12 7.5V12l3 2"/>',
    "cross": '<path d="M6 6l12 12M18 6 6 18"/>',
    "moon": '<path d="M20 14.5A8.5 8.5 0 1 1 9.5 4a6.5 6.5 0 0 0 10.5 10.5Z"/>',
    "paperclip": (
        '<path d="M16 7.5v8.5a4 4 0 0 1-8 0V6a2.75 2.75 0 0 1 5.5 0v9.5a1.5 1.5 0 0 1-3 0V7.5"/>'
    ),
    "pin": '<path d="M9 3.5h6M10 3.5v6l-3 4h10l-3-4v-6M12 13.5v7"/>',
    "smile": (
        '<circle cx="12" cy="12" r="9"/><path d="M8.5 14.5a4.5 4.5 0 0 0 7 0"/>'
        '<path d="M9 9.5v.5M15 9.5v.5"/>'
    ),
    "sun": (
        '<circle cx="12" cy="12" r="4"/><path d="M12 2.5v2M12 19.5v2M2.5 12h2M19.5 12h2'
        'M5.3 5.3l1.4 1.4M17.3 17.3l1.4 1.4M5.3 18.7l1.4-1.4M17.3 6.7l1.4-1.4"/>'
    ),
}


@register.simple_tag
def icon(name: str) -> SafeString:
    """The icon ``name`` as an ``<svg>`` (none for ``""``); an unknown name is a template
    error, not a blank."""
    if not name:
        return SafeString("")
    if name not in SHAPES:
        raise template.TemplateSyntaxError(f"No icon named “{name}” (known: {', '.join(SHAPES)}).")
    return format_html(
        '<svg class="icon icon-{}" viewBox="0 0 24 24" width="1em" height="1em" fill="none" '
        'stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" '
        'aria-hidden="true" focusable="false">{}</svg>',
        name,
        mark_safe(SHAPES[name]),  # noqa: S308  (constant markup above)
    )
