"""Saving message templates: every problem reported per field, nothing half-saved."""

from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction

from campaigns.models import MessageTemplate
from contacts.attributes import definitions_for
from contacts.templating import (
    CONTACT_VARIABLES,
    TemplateError,
    check_template,
    contact_values,
    render,
)
from inbox.actions.send import CONTENT_SID
from omnichannel import audit
from omnichannel.actions import ActionError
from omnichannel.channels import Channel
from omnichannel.models import AuditEvent, Tenant
from omnichannel.segments import SegmentInfo, segment_info

MAX_BODY = 1600  # Twilio's limit for one message body
TEMPLATE_FIELDS = ("name", "channel", "body", "content_sid", "variables")


class FieldErrors(ActionError):
    """``errors`` maps each field to what is wrong with it."""

    what = "form"
    action = "saved"

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        details = "; ".join(f"{field}: {reason}" for field, reason in self.errors.items())
        super().__init__(f"The {self.what} cannot be {self.action}: {details}", code="invalid")


class TemplateInvalid(FieldErrors):
    what = "template"


def _check(
    tenant: Tenant, *, name: str, channel: str, body: str, content_sid: str, variables: Any
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "is required"
    if channel not in Channel.values:
        errors["channel"] = f"must be one of {', '.join(Channel.values)}"
    keys = list(definitions_for(tenant))
    try:
        check_template(body, keys)
    except TemplateError as exc:
        errors["body"] = "; ".join(exc.problems)
    if len(body) > MAX_BODY:
        errors["body"] = f"has {len(body)} characters; the limit is {MAX_BODY}"
    if channel == Channel.WHATSAPP and not content_sid:
        # Free-form text: WhatsApp delivers it only to people who wrote in the last 24 hours
        # (campaigns refuse to launch it to anyone else and skip whose window closes).
        if not body.strip():
            errors.setdefault("body", "is required, or give an approved template's Content SID")
        if variables:
            errors["variables"] = (
                "are for approved templates (with a Content SID); free-form text puts "
                "{{variables}} in its body"
            )
    elif channel == Channel.WHATSAPP:
        if not CONTENT_SID.match(content_sid):
            errors["content_sid"] = "must be the approved template's Content SID (HX + 32 hex)"
        known = set(CONTACT_VARIABLES) | set(keys)
        if not isinstance(variables, dict) or not all(
            str(k).isdigit() and v in known for k, v in variables.items()
        ):
            errors["variables"] = (
                'maps the template\'s numbers to variables, e.g. {"1": "firstName"}'
            )
    else:
        if not body.strip():
            errors.setdefault("body", "is required")
        if content_sid or variables:
            errors["content_sid"] = "only WhatsApp templates have a Content SID and variables"
    return errors


def do_save_template(
    tenant: Tenant,
    *,
    name: str,
    channel: str,
    body: str = "",
    content_sid: str = "",
    variables: Any = None,
    template: MessageTemplate | None = None,
) -> MessageTemplate:
    """Create (or, with ``template``, change) a template; :class:`TemplateInvalid` lists every
    problem, and a second template with the same name is refused."""
    name = " ".join((name or "").split())[:120]
    content_sid = (content_sid or "").strip()
    variables = variables or {}
    errors = _check(
        tenant, name=name, channel=channel, body=body, content_sid=content_sid, variables=variables
    )
    if errors:
        raise TemplateInvalid(errors)
    if template is not None and template.tenant_id != tenant.pk:
        raise ActionError("No such template.", code="not_found")
    creating = template is None or template.pk is None
    template = template or MessageTemplate(tenant=tenant)
    before = audit.snapshot(template, TEMPLATE_FIELDS)
    template.name, template.channel, template.body = name, channel, body
    template.content_sid, template.variables = content_sid, variables
    changed = audit.changed_fields(template, before)
    if not creating and not changed:
        return template
    with transaction.atomic():
        try:
            with transaction.atomic():
                template.save()
        except IntegrityError:
            raise TemplateInvalid({"name": f"“{name}” is already the name of a template"}) from None
        audit.record(
            AuditEvent.Action.TEMPLATE_CREATED if creating else AuditEvent.Action.TEMPLATE_CHANGED,
            tenant=tenant,
            target=template,
            data={"channel": channel} if creating else {"changed": changed},
        )
    return template


def preview(template: MessageTemplate, contact) -> tuple[str, SegmentInfo]:
    """The template as ``contact`` (of the template's tenant) would receive it, and what it
    costs in SMS segments."""
    if contact.tenant_id != template.tenant_id:
        raise ActionError("No such contact.", code="not_found")
    keys = list(definitions_for(template.tenant))
    text = render(template.body, contact_values(contact, keys))
    return text, segment_info(text)
