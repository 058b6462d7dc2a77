"""Labels on conversations, and canned responses: the tenant's own list, written here.

The labels themselves (created, renamed, recoloured, deleted) are the core's
(:mod:`omnichannel.labels`).
Canned-response shortcuts are slugs stored lower-case and unique per tenant; agents insert one
in the composer by typing ``/shortcut``, its ``{{firstName|default:"…"}}`` variables filled for
the conversation's contact as message templates fill them (:mod:`contacts.templating`), so a
response is saved only when every variable is known. Labelling a conversation publishes
``conversation.updated`` (``changed: ["labels"]``) after commit.
"""

import re

from django.db import IntegrityError, transaction

from contacts.attributes import definitions_for
from contacts.templating import TemplateError, check_template
from inbox.models import CannedResponse, Conversation, ConversationLabel
from inbox.payloads import conversation_payload
from omnichannel import audit, events
from omnichannel.actions import ActionError
from omnichannel.models import AuditEvent, Label, Tenant

SHORTCUT_MAX = CannedResponse._meta.get_field("shortcut").max_length
TITLE_MAX = CannedResponse._meta.get_field("title").max_length
BODY_MAX = 4000
SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


# --- Labels on conversations --------------------------------------------------------------------


def _check_same_tenant(conversation: Conversation, label: Label) -> None:
    # The same answer as a missing label: another tenant's label is not even named.
    if label.tenant_id != conversation.tenant_id:
        raise ActionError("No such label.", code="not_found")


def _publish_labels_changed(conversation: Conversation) -> None:
    events.publish(
        conversation.tenant,
        events.EventType.CONVERSATION_UPDATED,
        conversation_payload(conversation, changed=["labels"]),
    )


@transaction.atomic
def do_label_conversation(conversation: Conversation, label: Label, *, acting_user=None) -> bool:
    """Puts ``label`` on ``conversation``; False when it was already there."""
    _check_same_tenant(conversation, label)
    _, created = ConversationLabel.objects.get_or_create(
        conversation=conversation,
        label=label,
        defaults={"tenant_id": conversation.tenant_id, "added_by": acting_user},
    )
    if created:
        _publish_labels_changed(conversation)
    return created


@transaction.atomic
def do_unlabel_conversation(conversation: Conversation, label: Label, *, acting_user=None) -> bool:
    """Takes ``label`` off ``conversation``; False when it was not there."""
    _check_same_tenant(conversation, label)
    deleted, _ = ConversationLabel.objects.filter(conversation=conversation, label=label).delete()
    if deleted:
        _publish_labels_changed(conversation)
    return bool(deleted)


# --- Canned responses ---------------------------------------------------------------------------


def clean_shortcut(shortcut: str) -> str:
    """``/Refund-Policy`` → ``refund-policy``: lower-case letters, digits, ``-`` and ``_``."""
    value = (shortcut or "").strip().lstrip("/").lower()
    if not value:
        raise ActionError("A canned response needs a shortcut, e.g. “refund”.")
    if len(value) > SHORTCUT_MAX or not SHORTCUT.match(value):
        raise ActionError(
            f"A shortcut is up to {SHORTCUT_MAX} lower-case letters, digits, “-” or “_”, "
            "starting with a letter or digit."
        )
    return value


def _clean_title(title: str) -> str:
    title = " ".join((title or "").split())
    if not title:
        raise ActionError("A canned response needs a title.")
    if len(title) > TITLE_MAX:
        raise ActionError(f"A title has at most {TITLE_MAX} characters.")
    return title


def _clean_body(tenant: Tenant, body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise ActionError("A canned response needs some text.")
    if len(body) > BODY_MAX:
        raise ActionError(f"A canned response has at most {BODY_MAX} characters.")
    try:
        check_template(body, definitions_for(tenant))
    except TemplateError as exc:
        raise ActionError(f"The canned response cannot be saved: {exc}.") from exc
    return body


def _shortcut_conflict(shortcut: str) -> ActionError:
    return ActionError(f"The shortcut /{shortcut} is already taken.", code="conflict")


def _save_canned(canned: CannedResponse) -> CannedResponse:
    try:
        with transaction.atomic():
            canned.save()
    except IntegrityError as exc:
        raise _shortcut_conflict(canned.shortcut) from exc
    return canned


def _shortcut_taken(tenant_id: int, shortcut: str, *, exclude_pk: int | None = None) -> bool:
    qs = CannedResponse.objects.filter(tenant_id=tenant_id, shortcut=shortcut)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.exists()


@transaction.atomic
def do_create_canned_response(
    tenant: Tenant, *, shortcut: str, title: str, body: str, acting_user=None
) -> CannedResponse:
    shortcut = clean_shortcut(shortcut)
    if _shortcut_taken(tenant.pk, shortcut):
        raise _shortcut_conflict(shortcut)
    canned = CannedResponse(
        tenant=tenant,
        shortcut=shortcut,
        title=_clean_title(title),
        body=_clean_body(tenant, body),
        created_by=acting_user,
    )
    _save_canned(canned)
    audit.record(
        AuditEvent.Action.CANNED_RESPONSE_CREATED, tenant=tenant, actor=acting_user, target=canned
    )
    return canned


@transaction.atomic
def do_update_canned_response(
    canned: CannedResponse,
    *,
    shortcut: str | None = None,
    title: str | None = None,
    body: str | None = None,
) -> CannedResponse:
    before = audit.snapshot(canned, ("shortcut", "title", "body"))
    if shortcut is not None:
        canned.shortcut = clean_shortcut(shortcut)
        if _shortcut_taken(canned.tenant_id, canned.shortcut, exclude_pk=canned.pk):
            raise _shortcut_conflict(canned.shortcut)
    if title is not None:
        canned.title = _clean_title(title)
    if body is not None:
        canned.body = _clean_body(canned.tenant, body)
    changed = audit.changed_fields(canned, before)
    if not changed:
        return canned
    _save_canned(canned)
    audit.record(
        AuditEvent.Action.CANNED_RESPONSE_CHANGED,
        tenant=canned.tenant,
        target=canned,
        data={"changed": changed},
    )
    return canned


@transaction.atomic
def do_delete_canned_response(canned: CannedResponse) -> None:
    audit.record(
        AuditEvent.Action.CANNED_RESPONSE_DELETED,
        tenant=canned.tenant,
        target=canned,
        data={"shortcut": canned.shortcut},
    )
    canned.delete()
