"""The settings area's sections: the core's own and those the product apps add.

The core imports no product app; an app registers its sections in its ``AppConfig.ready()``,
and :func:`omnichannel.settings_views.settings_nav` shows a member those their role may see.
An app can also add a part to a page of the core: the inbox puts its canned responses on the
labels page.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    key: str  # also the URL name in the "settings" namespace
    label: str
    permission: str  # needed to see the section
    position: int  # in the navigation, lowest first


@dataclass(frozen=True)
class PagePart:
    """What an app shows on a core settings page: its template, included below the page's own
    content, and ``context(request, **state)``: the names the template uses. ``state`` is what
    the app's own views pass when they render the page (a form with its errors)."""

    template: str
    context: Callable[..., dict]


_sections: dict[str, Section] = {}
_page_parts: dict[str, list[PagePart]] = {}


def register(*sections: Section) -> None:
    for section in sections:
        existing = _sections.get(section.key)
        if existing is not None and existing != section:
            raise ValueError(f"Settings section {section.key!r} is registered twice.")
        _sections[section.key] = section


def sections() -> list[Section]:
    return sorted(_sections.values(), key=lambda section: section.position)


def register_page_part(page: str, part: PagePart) -> None:
    """Show ``part`` on the core settings page ``page`` (once, however often this runs)."""
    parts = _page_parts.setdefault(page, [])
    if part not in parts:
        parts.append(part)


def page_parts(page: str) -> list[PagePart]:
    return list(_page_parts.get(page, []))


# The platform's own sections; the apps' go between them by position (teams and inboxes after
# labels, notifications last).
register(
    Section("general", "General", "tenant.view_settings", position=10),
    Section("members", "Members", "members.view", position=20),
    Section("roles", "Roles", "roles.manage", position=30),
    Section("labels", "Labels & canned responses", "canned_responses.manage", position=40),
    Section("api-tokens", "API tokens", "api_tokens.manage", position=70),
    Section("audit", "Audit trail", "audit.view", position=80),
)
