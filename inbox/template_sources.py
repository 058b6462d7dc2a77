"""Approved templates the composer offers where only a template may be sent (a WhatsApp
conversation whose 24-hour window is closed).

The inbox keeps no templates: the apps that do (campaigns) register a source in their
``AppConfig.ready()``. A source lists a tenant's approved templates for a channel, filled for
one contact (the variables as the contact's values, the text as the contact would read it),
and says where they are managed and who may add one.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from contacts.models import Contact
from omnichannel.actions import ActionError
from omnichannel.models import Tenant


@dataclass(frozen=True)
class ApprovedTemplate:
    """One approved template filled for a contact. ``key`` names it in forms
    (``<source>:<id>``); ``text`` is what the contact reads, stored as the message's body."""

    key: str
    name: str
    content_sid: str
    variables: dict[str, str] = field(default_factory=dict)
    text: str = ""

    def as_send_template(self) -> dict:
        """The ``template`` argument of ``do_send_message``."""
        return {"content_sid": self.content_sid, "variables": dict(self.variables)}


@dataclass(frozen=True)
class TemplateSource:
    """``templates(tenant, channel, contact)``: the tenant's approved templates for the channel
    filled for ``contact``. ``manage_url_name`` / ``manage_permission``: the page where one is
    added and who may open it; ``where``: that page as people find it in the menus."""

    name: str
    templates: Callable[[Tenant, str, Contact], Iterable[ApprovedTemplate]]
    manage_url_name: str
    manage_permission: str
    where: str


sources: list[TemplateSource] = []


def register(source: TemplateSource) -> TemplateSource:
    """Offer ``source``'s templates in the composer (once, however often this runs)."""
    if all(existing.name != source.name for existing in sources):
        sources.append(source)
    return source


def approved_templates(tenant: Tenant, channel: str, contact: Contact) -> list[ApprovedTemplate]:
    """Every source's approved templates for ``channel``, filled for ``contact``, by name."""
    found = [t for source in sources for t in source.templates(tenant, channel, contact)]
    return sorted(found, key=lambda t: (t.name.lower(), t.key))


def approved_template(tenant: Tenant, channel: str, contact: Contact, key: str) -> ApprovedTemplate:
    """The template ``key`` (one of the tenant's, for ``channel``) filled for ``contact``;
    ActionError(not_found) for any other key."""
    for template in approved_templates(tenant, channel, contact):
        if template.key == key:
            return template
    raise ActionError(
        "That template is not one of this account's approved templates for this channel.",
        code="not_found",
    )


def where_to_add(codenames: Iterable[str]) -> tuple[list[TemplateSource], list[TemplateSource]]:
    """The sources whose page for adding templates this member may open, and the others
    (someone else adds them there)."""
    held = set(codenames)
    mine = [source for source in sources if source.manage_permission in held]
    return mine, [source for source in sources if source not in mine]
