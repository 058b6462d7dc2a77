"""Registries through which the apps above contacts take part in its GDPR features.

``contacts`` knows nothing of inbox, campaigns or notifications; each of them registers, in
its ``AppConfig.ready()``, what it does with its own rows when a contact is erased or exported:

- ``on_erase``: ``hook(contact, personal) -> {"what": count, ...}`` removes or masks the person
  in the app's tables, inside the erasure's transaction (files are deleted with
  ``transaction.on_commit``); the counts go into the ``contact.erased`` audit row. It may
  ``personal.add(...)`` what its channels learned about them (a profile name), which the
  hooks after it and the audit masking then also look for.
- ``on_export``: ``hook(contact, personal) -> {"section": [...], ...}``: the sections it adds
  to the contact's export, JSON-ready, in a fixed number of queries.

``personal`` is the contact's :class:`contacts.personal_data.PersonalData`.
"""

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contacts.models import Contact
    from contacts.personal_data import PersonalData

EraseHook = Callable[["Contact", "PersonalData"], Mapping[str, int] | None]
ExportHook = Callable[["Contact", "PersonalData"], Mapping[str, Any]]

on_erase: list[EraseHook] = []
on_export: list[ExportHook] = []


def register_erase(hook: EraseHook) -> EraseHook:
    """Call ``hook`` when a contact is erased (once, however often this runs)."""
    if hook not in on_erase:
        on_erase.append(hook)
    return hook


def register_export(hook: ExportHook) -> ExportHook:
    """Add ``hook``'s sections to every contact export (once, however often this runs)."""
    if hook not in on_export:
        on_export.append(hook)
    return hook
