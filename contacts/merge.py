"""Merging two records of one person: everything of the loser moves to the winner, then the
loser is deleted, in one transaction, audited.

What moves and who wins a conflict:

- phones and emails: all move; the winner's primary stays primary (the loser's becomes the
  winner's primary only when the winner had none);
- consents per channel and sender: an opt-out is never lost (either side opted out → opted
  out); otherwise the most recent change wins;
- custom attributes and the contact's own fields: the winner's values win, the loser's fill the
  gaps; external ids likewise (a different id of the loser for the same system is kept in the
  audit row, since one contact holds one id per system);
- household members (and other households listing the loser), list memberships and labels:
  moved, without duplicates;
- the apps above contacts move their own rows through ``contacts.hooks.on_merge`` (the inbox
  its conversations: ``inbox.actions.contact_data``);
- rows of other apps pointing at a contact are repointed to the winner.
"""

from collections import defaultdict

from django.db import IntegrityError, transaction
from django.http import HttpRequest

from contacts import auditing, hooks
from contacts.households import folded_name
from contacts.models import (
    PROFILE_FIELDS,
    Consent,
    Contact,
    ContactEmail,
    ContactLabel,
    ContactPhone,
    HouseholdMember,
    ListMembership,
)
from contacts.services import adopt_mirror_rows, display_name
from omnichannel.actions import ActionError


def _stronger(ours: Consent, theirs: Consent) -> Consent:
    """Which of two consents for the same channel and sender survives a merge."""
    ours_out = ours.status == Consent.Status.OPTED_OUT
    theirs_out = theirs.status == Consent.Status.OPTED_OUT
    if ours_out != theirs_out:
        return ours if ours_out else theirs
    return ours if ours.changed_at >= theirs.changed_at else theirs


def _merge_consents(winner: Contact, loser: Contact) -> int:
    mine = {(c.channel, c.sender): c for c in Consent.objects.filter(contact=winner)}
    changed = 0
    for theirs in Consent.objects.filter(contact=loser):
        ours = mine.get((theirs.channel, theirs.sender))
        if ours is None:
            Consent.objects.filter(pk=theirs.pk).update(contact=winner)
            changed += 1
            continue
        if _stronger(ours, theirs) is theirs:
            for name in ("status", "source", "detail", "changed_at"):
                setattr(ours, name, getattr(theirs, name))
            ours.save(update_fields=["status", "source", "detail", "changed_at"])
            changed += 1
        theirs.delete()
    return changed


def _move_phones_and_emails(winner: Contact, loser: Contact) -> tuple[int, int]:
    # Contact.phone is unique per tenant: free the loser's mirrors before the winner takes one.
    Contact.objects.filter(pk=loser.pk).update(phone="", email="")
    loser_phone = ContactPhone.objects.filter(contact=loser, is_primary=True).first()
    loser_email = ContactEmail.objects.filter(contact=loser, is_primary=True).first()
    winner_has_phone = ContactPhone.objects.filter(contact=winner, is_primary=True).exists()
    winner_has_email = ContactEmail.objects.filter(contact=winner, is_primary=True).exists()
    phones = ContactPhone.objects.filter(contact=loser).update(contact=winner, is_primary=False)
    emails = ContactEmail.objects.filter(contact=loser).update(contact=winner, is_primary=False)
    if loser_phone is not None and not winner_has_phone:
        ContactPhone.objects.filter(pk=loser_phone.pk).update(is_primary=True)
        winner.phone = loser_phone.number
    if loser_email is not None and not winner_has_email:
        ContactEmail.objects.filter(pk=loser_email.pk).update(is_primary=True)
        winner.email = loser_email.email
    return phones, emails


def _merge_fields(winner: Contact, loser: Contact) -> dict[str, dict[str, str]]:
    """Fill the winner's blanks from the loser; the external ids that disagree."""
    for name in PROFILE_FIELDS:  # the loser fills in what the winner left blank
        if not getattr(winner, name) and getattr(loser, name):
            setattr(winner, name, getattr(loser, name))
    if not (winner.first_name or winner.last_name) and (loser.first_name or loser.last_name):
        winner.first_name, winner.last_name = loser.first_name, loser.last_name
    winner.name = display_name(winner.first_name, winner.last_name, winner.name or loser.name)
    winner.attributes = {**(loser.attributes or {}), **(winner.attributes or {})}
    conflicts = {
        system: {"kept": winner.external_ids[system], "dropped": value}
        for system, value in (loser.external_ids or {}).items()
        if system in (winner.external_ids or {}) and winner.external_ids[system] != value
    }
    winner.external_ids = {**(loser.external_ids or {}), **(winner.external_ids or {})}
    winner.created_at = min(winner.created_at, loser.created_at)
    moments = [t for t in (winner.last_contacted_at, loser.last_contacted_at) if t]
    winner.last_contacted_at = max(moments) if moments else None
    return conflicts


def _merge_household(winner: Contact, loser: Contact) -> int:
    moved = HouseholdMember.objects.filter(contact=loser).update(contact=winner)
    HouseholdMember.objects.filter(member=loser).update(member=winner)
    # The two records were each other's household member: a person is not their own.
    HouseholdMember.objects.filter(contact=winner, member=winner).delete()
    by_name: dict[tuple[str, str], list[HouseholdMember]] = defaultdict(list)
    for member in HouseholdMember.objects.filter(contact=winner).order_by("id"):
        by_name[(folded_name(member.name), member.relationship)].append(member)
    for same in by_name.values():
        if len(same) < 2:
            continue
        # Keep confirmed members (all of them: a person decided) and, when none is, the first.
        keep = [m for m in same if m.is_confirmed] or same[:1]
        HouseholdMember.objects.filter(pk__in=[m.pk for m in same if m not in keep]).delete()
    return moved


def _move_links(model, field: str, winner: Contact, loser: Contact) -> int:
    """Move ``model`` rows (unique per contact and ``field``) from loser to winner."""
    taken = model.objects.filter(contact=winner).values(field)
    moved = model.objects.filter(contact=loser).exclude(**{f"{field}__in": taken})
    count = moved.update(contact=winner)
    model.objects.filter(contact=loser).delete()
    return count


HANDLED = {"ContactPhone", "ContactEmail", "Consent", "HouseholdMember", "ListMembership"}
HANDLED |= {"ContactLabel"}


def _repoint_other_rows(winner: Contact, loser: Contact) -> dict[str, int]:
    """Rows of models this module does not know (other apps) follow the winner. The apps'
    merge hooks have already moved theirs: nothing of those is left to repoint."""
    moved = {}
    for relation in Contact._meta.get_fields(include_hidden=True):
        if not (relation.auto_created and not relation.concrete):
            continue
        if not (relation.one_to_many or relation.one_to_one):
            continue
        model = relation.related_model
        if model.__name__ in HANDLED and model._meta.app_label == "contacts":
            continue
        name = relation.field.name
        try:
            with transaction.atomic():
                count = model._base_manager.filter(**{name: loser}).update(**{name: winner})
        except IntegrityError as exc:
            raise ActionError(
                f"Both contacts have {model._meta.verbose_name_plural} that cannot be combined; "
                "resolve them first.",
                code="conflict",
            ) from exc
        if count:
            moved[model._meta.label] = count
    return moved


@transaction.atomic
def do_merge_contacts(
    winner: Contact,
    loser: Contact,
    *,
    acting_user=None,
    acting_token=None,
    request: HttpRequest | None = None,
) -> Contact:
    """Merge ``loser`` into ``winner`` (see the module docstring); the updated winner."""
    if winner.tenant_id != loser.tenant_id:
        raise ActionError("No contact found.", code="not_found")
    if winner.pk == loser.pk:
        raise ActionError("Choose two different contacts to merge.")
    locked = {
        c.pk: c
        for c in Contact.objects.select_for_update()
        .filter(tenant_id=winner.tenant_id, pk__in=[winner.pk, loser.pk])
        .order_by("pk")
    }
    if len(locked) != 2:
        raise ActionError("No contact found.", code="not_found")
    winner, loser = locked[winner.pk], locked[loser.pk]
    if winner.erased_at or loser.erased_at:
        raise ActionError("An erased contact cannot be merged.", code="gone")
    loser_label, loser_pk = str(loser), loser.pk

    adopt_mirror_rows(winner)
    adopt_mirror_rows(loser)
    phones, emails = _move_phones_and_emails(winner, loser)
    consents = _merge_consents(winner, loser)
    conflicts = _merge_fields(winner, loser)
    household = _merge_household(winner, loser)
    lists = _move_links(ListMembership, "contact_list", winner, loser)
    labels = _move_links(ContactLabel, "label", winner, loser)
    moved_by_apps: dict = {}
    for hook in hooks.on_merge:  # the apps above contacts move theirs (conversations, ...)
        moved_by_apps.update(
            hook(winner, loser, acting_user=acting_user, acting_token=acting_token)
        )
    others = _repoint_other_rows(winner, loser)
    winner.save()
    auditing.record(
        auditing.CONTACT_MERGED,
        tenant=winner.tenant,
        acting_user=acting_user,
        acting_token=acting_token,
        target=winner,
        request=request,
        data={
            "merged_contact_id": loser_pk,
            "merged_contact": loser_label,
            "phones": phones,
            "emails": emails,
            "consents": consents,
            "household_members": household,
            "list_memberships": lists,
            "labels": labels,
            **moved_by_apps,
            "external_id_conflicts": conflicts,
            "other_rows": others,
        },
    )
    loser.delete()
    return winner
