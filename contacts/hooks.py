"""Registries through which the apps above contacts take part in its features.

``contacts`` knows nothing of inbox, campaigns or notifications; each of them registers, in
its ``AppConfig.ready()``, what it does with its own rows and what it shows:

- ``on_erase``: ``hook(contact, personal) -> {"what": count, ...}`` removes or masks the person
  in the app's tables, inside the erasure's transaction (files are deleted with
  ``transaction.on_commit``); the counts go into the ``contact.erased`` audit row. It may
  ``personal.add(...)`` what its channels learned about them (a profile name), which the
  hooks after it and the audit masking then also look for.
- ``on_export``: ``hook(contact, personal) -> {"section": [...], ...}``: the sections it adds
  to the contact's export, JSON-ready, in a fixed number of queries.
- ``erase_previews``: ``hook(contact) -> ["what the erasure does here", ...]``: lines of the
  erasure's confirmation page.
- ``on_merge``: ``hook(winner, loser, acting_user=..., acting_token=...) -> {"what": ...}``
  moves the loser's rows to the winner inside the merge's transaction, before the rows of
  models nobody registered for are repointed; the result goes into the ``contact.merged``
  audit row.
- ``contact_panels``: ``hook(request, contact) -> ContactPanel``: a section of the contact page.
- ``sender_lists``: ``hook(tenant) -> [Sender, ...]``: the addresses the tenant sends from
  (consents are recorded per channel and sender).
- ``shared_attribute_sources``: ``hook(contact) -> {"name": value, ...}``: what the app tells
  the systems a tenant connects (a Chatwoot contact's custom attributes) about the contact;
  a value of None says it has nothing there any more (the other side removes its copy).
- ``on_shared_attributes_changed``: ``hook(tenant_id, contact_ids)`` after commit, when what
  the sources say about these contacts may have changed (whoever changed it calls
  :func:`shared_attributes_changed`): a connected system schedules its push.

``personal`` is the contact's :class:`contacts.personal_data.PersonalData`.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from django.db import transaction

if TYPE_CHECKING:
    from django.http import HttpRequest

    from contacts.models import Contact
    from contacts.personal_data import PersonalData
    from omnichannel.models import Tenant


class Sender(NamedTuple):
    """An address the tenant sends from on a channel (an inbox's)."""

    channel: str
    address: str
    name: str


@dataclass(frozen=True)
class ContactPanel:
    """A section an app adds to the contact page's side column: ``template`` is rendered with
    the page's context plus ``panel`` (this object). ``keeps_contact`` says the contact has
    rows there that forbid deleting it (it can be erased instead)."""

    template: str
    context: Mapping[str, Any] = field(default_factory=dict)
    keeps_contact: bool = False


EraseHook = Callable[["Contact", "PersonalData"], Mapping[str, int] | None]
ExportHook = Callable[["Contact", "PersonalData"], Mapping[str, Any]]
ErasePreviewHook = Callable[["Contact"], list[str]]
MergeHook = Callable[..., Mapping[str, Any]]
PanelHook = Callable[["HttpRequest", "Contact"], ContactPanel]
SendersHook = Callable[["Tenant"], list[Sender]]
AttributesHook = Callable[["Contact"], Mapping[str, Any]]
AttributesChangedHook = Callable[[int, list[int]], object]

on_erase: list[EraseHook] = []
on_export: list[ExportHook] = []
erase_previews: list[ErasePreviewHook] = []
on_merge: list[MergeHook] = []
contact_panels: list[PanelHook] = []
sender_lists: list[SendersHook] = []
shared_attribute_sources: list[AttributesHook] = []
on_shared_attributes_changed: list[AttributesChangedHook] = []


def _register[H](registry: list[H], hook: H) -> H:
    """Add ``hook`` to ``registry`` once, however often ``ready()`` runs."""
    if hook not in registry:
        registry.append(hook)
    return hook


def register_erase(hook: EraseHook) -> EraseHook:
    """Call ``hook`` when a contact is erased."""
    return _register(on_erase, hook)


def register_export(hook: ExportHook) -> ExportHook:
    """Add ``hook``'s sections to every contact export."""
    return _register(on_export, hook)


def register_erase_preview(hook: ErasePreviewHook) -> ErasePreviewHook:
    """Add ``hook``'s lines to the erasure's confirmation page."""
    return _register(erase_previews, hook)


def register_merge(hook: MergeHook) -> MergeHook:
    """Call ``hook`` when one contact is merged into another."""
    return _register(on_merge, hook)


def register_contact_panel(hook: PanelHook) -> PanelHook:
    """Show ``hook``'s section on every contact page."""
    return _register(contact_panels, hook)


def register_senders(hook: SendersHook) -> SendersHook:
    """Count ``hook``'s addresses among the tenant's senders."""
    return _register(sender_lists, hook)


def senders(tenant: "Tenant") -> list[Sender]:
    """Every address ``tenant`` sends from, as the registered apps list them."""
    return [sender for hook in sender_lists for sender in hook(tenant)]


def register_shared_attributes(hook: AttributesHook) -> AttributesHook:
    """Add ``hook``'s attributes to what connected systems are told about a contact."""
    return _register(shared_attribute_sources, hook)


def register_shared_attributes_changed(hook: AttributesChangedHook) -> AttributesChangedHook:
    """Call ``hook`` when contacts' shared attributes may have changed."""
    return _register(on_shared_attributes_changed, hook)


def shared_attributes(contact: "Contact") -> dict[str, Any]:
    """Every registered app's attributes of ``contact``, by name."""
    values: dict[str, Any] = {}
    for hook in shared_attribute_sources:
        values.update(hook(contact))
    return values


def shared_attributes_changed(tenant_id: int, contact_ids: list[int]) -> None:
    """Tell the registered hooks, once the current transaction commits (never for a change
    that rolled back), that these contacts' shared attributes may have changed."""
    if not contact_ids or not on_shared_attributes_changed:
        return
    ids = sorted(set(contact_ids))

    def notify() -> None:
        for hook in on_shared_attributes_changed:
            hook(tenant_id, ids)

    transaction.on_commit(notify)
