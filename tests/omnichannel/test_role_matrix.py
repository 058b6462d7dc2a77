"""Pages and the API allow and refuse the same writes to the same roles, as the registry says.

Every write route of the API (POST, PUT, PATCH, DELETE, read from the ninja routers) has at least
one case below: the API request, its twin in the pages (or an entry in ``API_ONLY`` saying why
there is none) and the permissions it needs. Each case runs for each built-in role, once with
the role's API token and once signed in as a member with that role, each request in a savepoint
that is rolled back. Both must be refused (403) exactly when the role lacks one of the needed
permissions in the registry (``owner``: only the built-in Owner role), and allowed (anything but
403) otherwise. A new write route without a case fails ``test_every_write_route_has_a_case``.
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import get_resolver, resolve, reverse

from contacts.bulk import do_start_bulk_operation
from contacts.lists import do_create_list, do_create_segment
from contacts.models import AttributeDefinition, BlockedAddress, HouseholdMember
from inbox.actions.macros import do_add_macro_step, do_create_macro
from inbox.actions.teams import do_create_team
from omnichannel.actions import do_create_api_token
from omnichannel.api import api
from omnichannel.models import ApiToken, AuditEvent, Role
from omnichannel.permissions import BuiltinRole, builtin_role_codenames
from omnichannel.tenancy import SESSION_KEY
from tests.inbox.api_factories import (
    bearer,
    make_contact,
    make_conversation,
    make_inbox,
    token_for,
)

pytestmark = [pytest.mark.django_db, pytest.mark.clock]  # snoozes (to 2099: any clock)
ROLES = [role.value for role in BuiltinRole]
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
OWNER = "owner"  # in ``needs``: only the built-in Owner role
FAR_FUTURE = "2099-01-01T09:00:00+00:00"  # a snooze that is in the future whatever the clock


@dataclass(frozen=True)
class Case:
    name: str
    needs: frozenset[str]
    # The API route as the router declares it ("PATCH /conversations/{conversation_id}"), the URL
    # and JSON body for the world; None for a page without an API twin.
    route: str | None
    api_url: Callable[[Any], str] | None = None
    api_body: Callable[[Any], Any] | None = None
    # The page's URL name, its arguments and its form data; None for an API-only route.
    ui: str | None = None
    ui_args: Callable[[Any], list] = lambda w: []
    ui_data: Callable[[Any], dict] = lambda w: {}
    ui_method: str = "POST"


def case(name, needs, route=None, url=None, body=None, ui=None, args=None, data=None, **kw):
    return Case(
        name=name,
        needs=frozenset(needs),
        route=route,
        api_url=url,
        api_body=body,
        ui=ui,
        ui_args=args or (lambda w: []),
        ui_data=data or (lambda w: {}),
        **kw,
    )


V1 = "/api/v1"
# An appointment type's numbers as the settings form sends them.
TYPE_NUMBERS = {
    "duration_minutes": "30",
    "buffer_before_minutes": "0",
    "buffer_after_minutes": "0",
    "slot_step_minutes": "0",
    "min_notice_minutes": "60",
    "horizon_days": "60",
    "hold_minutes": "10",
}
CONV = "conversations.view"

CASES = [
    # --- API tokens (only owners may revoke, or mint, an owner's token) ---
    case(
        "create a viewer token",
        {"api_tokens.manage"},
        "POST /tokens",
        lambda w: f"{V1}/tokens",
        lambda w: {"name": "CRM", "role": "viewer"},
        "settings:api-token-create",
        data=lambda w: {"name": "CRM", "role": w.roles["viewer"].pk},
    ),
    case(
        "create an owner token",
        {"api_tokens.manage", OWNER},
        "POST /tokens",
        lambda w: f"{V1}/tokens",
        lambda w: {"name": "CRM", "role": "owner"},
        "settings:api-token-create",
        data=lambda w: {"name": "CRM", "role": w.roles["owner"].pk},
    ),
    case(
        "revoke an agent's token",
        {"api_tokens.manage"},
        "POST /tokens/{token_id}/revoke",
        lambda w: f"{V1}/tokens/{w.agent_token.pk}/revoke",
        None,
        "settings:api-token-revoke",
        args=lambda w: [w.agent_token.pk],
    ),
    case(
        "revoke an owner's token",
        {"api_tokens.manage", OWNER},
        "POST /tokens/{token_id}/revoke",
        lambda w: f"{V1}/tokens/{w.owner_token.pk}/revoke",
        None,
        "settings:api-token-revoke",
        args=lambda w: [w.owner_token.pk],
    ),
    # --- conversations ---
    case(
        "send a message into a conversation",
        {CONV, "conversations.reply"},
        "POST /messages",
        lambda w: f"{V1}/messages",
        lambda w: {"channel": "sms", "conversation_id": w.conv.pk, "body": "Hola"},
        "inbox:message-send",
        args=lambda w: [w.conv.pk],
        data=lambda w: {"body": "Hola"},
    ),
    case(
        "reply",
        {CONV, "conversations.reply"},
        "POST /conversations/{conversation_id}/messages",
        lambda w: f"{V1}/conversations/{w.conv.pk}/messages",
        lambda w: {"body": "Hola"},
        "inbox:message-send",
        args=lambda w: [w.conv.pk],
        data=lambda w: {"body": "Hola"},
    ),
    case(
        "write a private note",
        {CONV, "conversations.note"},
        "POST /conversations/{conversation_id}/messages",
        lambda w: f"{V1}/conversations/{w.conv.pk}/messages",
        lambda w: {"body": "Call her back", "private": True},
        "inbox:message-send",
        args=lambda w: [w.conv.pk],
        data=lambda w: {"body": "Call her back", "mode": "note"},
    ),
    case(
        "close",
        {CONV, "conversations.manage"},
        "PATCH /conversations/{conversation_id}",
        lambda w: f"{V1}/conversations/{w.conv.pk}",
        lambda w: {"status": "closed"},
        "inbox:conversation-status",
        args=lambda w: [w.conv.pk],
        data=lambda w: {"status": "closed"},
    ),
    case(
        "set the priority",
        {CONV, "conversations.manage"},
        "PATCH /conversations/{conversation_id}",
        lambda w: f"{V1}/conversations/{w.conv.pk}",
        lambda w: {"priority": "high"},
        "inbox:conversation-priority",
        args=lambda w: [w.conv.pk],
        data=lambda w: {"priority": "3"},
    ),
    case(
        "snooze",
        {CONV, "conversations.manage"},
        "PATCH /conversations/{conversation_id}",
        lambda w: f"{V1}/conversations/{w.conv.pk}",
        lambda w: {"snoozed_until": FAR_FUTURE},
        "inbox:conversation-snooze",
        args=lambda w: [w.conv.pk],
        data=lambda w: {"until_at": FAR_FUTURE},
    ),
    case(
        "assign to another agent",
        {CONV, "conversations.assign", "conversations.assign_others"},
        "PATCH /conversations/{conversation_id}",
        lambda w: f"{V1}/conversations/{w.conv.pk}",
        lambda w: {"assignee_id": w.colleague.pk},
        "inbox:conversation-assign",
        args=lambda w: [w.conv.pk],
        data=lambda w: {"assignee": str(w.colleague.pk)},
    ),
    case(
        "unassign",
        {CONV, "conversations.assign"},
        "PATCH /conversations/{conversation_id}",
        lambda w: f"{V1}/conversations/{w.conv.pk}",
        lambda w: {"assignee_id": None},
        "inbox:conversation-assign",
        args=lambda w: [w.conv.pk],
        data=lambda w: {"assignee": "none"},
    ),
    case(
        "give to a team",
        {CONV, "conversations.assign"},
        "PATCH /conversations/{conversation_id}",
        lambda w: f"{V1}/conversations/{w.conv.pk}",
        lambda w: {"team_id": w.team.pk},
        "inbox:conversation-assign",
        args=lambda w: [w.conv.pk],
        data=lambda w: {"team": str(w.team.pk)},
    ),
    case(
        "run a macro that closes",
        {CONV, "conversations.manage"},
        "POST /conversations/{conversation_id}/macros/{macro_id}/run",
        lambda w: f"{V1}/conversations/{w.conv.pk}/macros/{w.macro.pk}/run",
        None,
        "inbox:conversation-macro-run",
        args=lambda w: [w.conv.pk, w.macro.pk],
    ),
    case(
        "take it oneself",
        {"conversations.assign"},
        ui="inbox:conversation-assign",
        args=lambda w: [w.conv.pk],
        data=lambda w: {"assignee": "me"},
    ),
    case(
        "delete a conversation",
        {"conversations.delete"},
        "DELETE /conversations/{conversation_id}",
        lambda w: f"{V1}/conversations/{w.conv.pk}",
        None,
        "inbox:conversation-delete",
        args=lambda w: [w.conv.pk],
        data=lambda w: {"confirm": "on"},
    ),
    case(
        "connect an inbox",
        {"inboxes.manage", "credentials.manage"},
        "POST /inboxes",
        lambda w: f"{V1}/inboxes",
        lambda w: {
            "channel": "sms",
            "address": "+14155550999",
            "credentials": {"account_sid": "AC" + "0" * 32, "auth_token": "x" * 32},
        },
        "settings:channel-connect",
        data=lambda w: {
            "provider": "twilio",
            "kind": "sms",
            "address": "+14155550999",
            "account_sid": "AC" + "0" * 32,
            "auth_token": "x" * 32,
        },
    ),
    case(
        "rename a channel or change its fallback",
        {"inboxes.manage"},
        "PATCH /inboxes/{inbox_id}",
        lambda w: f"{V1}/inboxes/{w.inbox.pk}",
        lambda w: {"name": "Renamed"},
        "settings:channel-update",
        args=lambda w: [w.inbox.pk],
        data=lambda w: {"name": "Renamed", "is_active": "on"},
    ),
    # --- contacts ---
    case(
        "create a contact",
        {"contacts.edit"},
        "POST /contacts",
        lambda w: f"{V1}/contacts",
        lambda w: {"name": "Bob"},
        "contacts:create",
        data=lambda w: {"first_name": "Bob"},
    ),
    case(
        "edit a contact",
        {"contacts.edit"},
        "PATCH /contacts/{int:contact_id}",
        lambda w: f"{V1}/contacts/{w.ana.pk}",
        lambda w: {"city": "Lima"},
        "contacts:edit",
        args=lambda w: [w.ana.pk],
        data=lambda w: {"first_name": "Ana", "city": "Lima"},
    ),
    case(
        "delete a contact",
        {"contacts.delete"},
        "DELETE /contacts/{int:contact_id}",
        lambda w: f"{V1}/contacts/{w.loner.pk}",
        None,
        "contacts:delete",
        args=lambda w: [w.loner.pk],
    ),
    case(
        "erase a contact",
        {"contacts.erase"},
        "POST /contacts/{int:contact_id}/erase",
        lambda w: f"{V1}/contacts/{w.ana.pk}/erase",
        None,
        "contacts:erase",
        args=lambda w: [w.ana.pk],
        data=lambda w: {"confirm": "ERASE"},
    ),
    case(
        "merge contacts",
        {"contacts.merge"},
        "POST /contacts/{int:contact_id}/merge",
        lambda w: f"{V1}/contacts/{w.ana.pk}/merge",
        lambda w: {"duplicate_id": w.loner.pk},
        "contacts:merge",
        args=lambda w: [w.ana.pk],
        data=lambda w: {"duplicate": w.loner.pk},
    ),
    case(
        "add a household member",
        {"contacts.edit"},
        "POST /contacts/{int:contact_id}/household",
        lambda w: f"{V1}/contacts/{w.ana.pk}/household",
        lambda w: {"members": [{"name": "Leo", "relationship": "child"}], "confirmed": True},
        "contacts:household-add",
        args=lambda w: [w.ana.pk],
        data=lambda w: {"name": "Leo", "relationship": "child"},
    ),
    case(
        "change a household member",
        {"contacts.edit"},
        "PUT /contacts/{int:contact_id}/household/{int:member_id}",
        lambda w: f"{V1}/contacts/{w.ana.pk}/household/{w.member.pk}",
        lambda w: {"name": "Luis", "relationship": "spouse"},
        "contacts:household-edit",
        args=lambda w: [w.ana.pk, w.member.pk],
        data=lambda w: {"name": "Luis", "relationship": "spouse"},
    ),
    case(
        "remove a household member",
        {"contacts.edit"},
        "DELETE /contacts/{int:contact_id}/household/{int:member_id}",
        lambda w: f"{V1}/contacts/{w.ana.pk}/household/{w.member.pk}",
        None,
        "contacts:household-remove",
        args=lambda w: [w.ana.pk, w.member.pk],
    ),
    case(
        "confirm a household member",
        {"contacts.edit"},
        "POST /contacts/{int:contact_id}/household/{int:member_id}/confirm",
        lambda w: f"{V1}/contacts/{w.ana.pk}/household/{w.member.pk}/confirm",
        None,
        "contacts:household-confirm",
        args=lambda w: [w.ana.pk, w.member.pk],
    ),
    case(
        "record an opt-out",
        {"contacts.manage_consent"},
        "PUT /contacts/{int:contact_id}/consents",
        lambda w: f"{V1}/contacts/{w.ana.pk}/consents",
        lambda w: {"channel": "sms", "sender": w.inbox.address, "status": "opted_out"},
        "contacts:consent-set",
        args=lambda w: [w.ana.pk],
        data=lambda w: {"channel": "sms", "sender": w.inbox.address, "status": "opted_out"},
    ),
    case(
        "define an attribute",
        {"contacts.manage_attributes"},
        "POST /contacts/attributes",
        lambda w: f"{V1}/contacts/attributes",
        lambda w: {"key": "plan", "label": "Plan"},
        "contacts:attributes",
        data=lambda w: {"key": "plan", "label": "Plan", "type": "text"},
    ),
    case(
        "change an attribute",
        {"contacts.manage_attributes"},
        "PATCH /contacts/attributes/{int:definition_id}",
        lambda w: f"{V1}/contacts/attributes/{w.attribute.pk}",
        lambda w: {"label": "Tier"},
        "contacts:attribute-edit",
        args=lambda w: [w.attribute.pk],
        data=lambda w: {"label": "Tier", "type": "text"},
    ),
    case(
        "delete an attribute",
        {"contacts.manage_attributes"},
        "DELETE /contacts/attributes/{int:definition_id}",
        lambda w: f"{V1}/contacts/attributes/{w.attribute.pk}",
        None,
        "contacts:attribute-delete",
        args=lambda w: [w.attribute.pk],
    ),
    case(
        "block a number",
        {"contacts.manage_consent"},
        "POST /contacts/blocklist",
        lambda w: f"{V1}/contacts/blocklist",
        lambda w: {"phone": "+14155550777"},
        "contacts:blocklist",
        data=lambda w: {"kind": "phone", "value": "+14155550777"},
    ),
    case(
        "unblock",
        {"contacts.manage_consent"},
        "DELETE /contacts/blocklist/{int:blocked_id}",
        lambda w: f"{V1}/contacts/blocklist/{w.blocked.pk}",
        None,
        "contacts:unblock",
        args=lambda w: [w.blocked.pk],
    ),
    case(
        "import a CSV",
        {"contacts.import"},
        "POST /contacts/import",
        lambda w: f"{V1}/contacts/import",
        lambda w: MULTIPART,
        "contacts:import-upload",
    ),
    case(
        "create a list",
        {"contacts.edit"},
        "POST /contacts/lists",
        lambda w: f"{V1}/contacts/lists",
        lambda w: {"name": "Summer"},
        "contacts:list-create",
        data=lambda w: {"name": "Summer"},
    ),
    case(
        "rename a list",
        {"contacts.edit"},
        "PATCH /contacts/lists/{list_id}",
        lambda w: f"{V1}/contacts/lists/{w.list.pk}",
        lambda w: {"name": "Winter"},
        "contacts:list-update",
        args=lambda w: [w.list.pk],
        data=lambda w: {"name": "Winter"},
    ),
    case(
        "delete a list",
        {"contacts.edit"},
        "DELETE /contacts/lists/{list_id}",
        lambda w: f"{V1}/contacts/lists/{w.list.pk}",
        None,
        "contacts:list-delete",
        args=lambda w: [w.list.pk],
    ),
    case(
        "add contacts to a list by id",
        {"contacts.edit"},
        "POST /contacts/lists/{list_id}/members",
        lambda w: f"{V1}/contacts/lists/{w.list.pk}/members",
        lambda w: {"add": [w.ana.pk]},
    ),
    case(
        "save a segment",
        {"contacts.edit"},
        "POST /contacts/segments",
        lambda w: f"{V1}/contacts/segments",
        lambda w: {"name": "Limeños", "filters": {"q": "Lima"}},
        "contacts:segment-create",
        data=lambda w: {"name": "Limeños", "q": "Lima"},
    ),
    case(
        "preview a filter",
        {"contacts.view"},
        "POST /contacts/segments/preview",
        lambda w: f"{V1}/contacts/segments/preview",
        lambda w: {"filters": {"q": "Ana"}},
    ),
    case(
        "change a segment",
        {"contacts.edit"},
        "PATCH /contacts/segments/{segment_id}",
        lambda w: f"{V1}/contacts/segments/{w.segment.pk}",
        lambda w: {"name": "Everyone"},
        "contacts:segment-update",
        args=lambda w: [w.segment.pk],
        data=lambda w: {"name": "Everyone"},
    ),
    case(
        "delete a segment",
        {"contacts.edit"},
        "DELETE /contacts/segments/{segment_id}",
        lambda w: f"{V1}/contacts/segments/{w.segment.pk}",
        None,
        "contacts:segment-delete",
        args=lambda w: [w.segment.pk],
    ),
    case(
        "add contacts to a list in bulk",
        {"contacts.bulk", "contacts.edit"},
        "POST /contacts/bulk",
        lambda w: f"{V1}/contacts/bulk",
        lambda w: {"action": "add_to_list", "params": {"list_id": w.list.pk}, "ids": [w.ana.pk]},
        "contacts:bulk-start",
        data=lambda w: {"action": "add_to_list", "list_id": w.list.pk, "ids": [w.ana.pk]},
    ),
    case(
        "delete contacts in bulk",
        {"contacts.bulk", "contacts.delete"},
        "POST /contacts/bulk",
        lambda w: f"{V1}/contacts/bulk",
        lambda w: {"action": "delete", "ids": [w.loner.pk]},
        "contacts:bulk-start",
        data=lambda w: {"action": "delete", "ids": [w.loner.pk], "confirmed": "1"},
    ),
    case(
        "cancel a bulk operation",
        {"contacts.bulk"},
        "POST /contacts/bulk/{operation_id}/cancel",
        lambda w: f"{V1}/contacts/bulk/{w.bulk.pk}/cancel",
        None,
        "contacts:bulk-cancel",
        args=lambda w: [w.bulk.pk],
    ),
    # --- templates and campaigns ---
    case(
        "create a template",
        {"templates.manage"},
        "POST /templates",
        lambda w: f"{V1}/templates",
        lambda w: {"name": "Promo", "channel": "sms", "body": "Hi"},
        "campaign-templates:create",
        data=lambda w: {"name": "Promo", "channel": "sms", "body": "Hi"},
    ),
    case(
        "change a template",
        {"templates.view", "templates.manage"},
        "PATCH /templates/{template_id}",
        lambda w: f"{V1}/templates/{w.template.pk}",
        lambda w: {"body": "Hello"},
        "campaign-templates:edit",
        args=lambda w: [w.template.pk],
        data=lambda w: {"name": "Welcome", "channel": "sms", "body": "Hello"},
    ),
    case(
        "delete a template",
        {"templates.manage"},
        "DELETE /templates/{template_id}",
        lambda w: f"{V1}/templates/{w.spare_template.pk}",
        None,
        "campaign-templates:delete",
        args=lambda w: [w.spare_template.pk],
    ),
    case(
        "preview a template for a contact",
        {"templates.view", "contacts.view"},
        "POST /templates/{template_id}/preview",
        lambda w: f"{V1}/templates/{w.template.pk}/preview",
        lambda w: {"contact_id": w.ana.pk},
        "campaign-templates:preview",
        data=lambda w: {"body": "Hi {{firstName}}", "channel": "sms", "contact": w.ana.pk},
    ),
    case(
        "create a campaign",
        {"campaigns.edit"},
        "POST /campaigns",
        lambda w: f"{V1}/campaigns",
        lambda w: {"name": "Summer", "inbox": w.inbox.pk, "template": w.template.pk},
        "campaigns:create",
        data=lambda w: {"name": "Summer", "inbox": w.inbox.pk, "template": w.template.pk},
    ),
    case(
        "preview a campaign's audience",
        {"campaigns.view"},
        "POST /campaigns/audience-preview",
        lambda w: f"{V1}/campaigns/audience-preview",
        lambda w: {"inbox": w.inbox.pk, "lists": [w.list.pk]},
        "campaigns:preview",
        data=lambda w: {"inbox": w.inbox.pk, "template": w.template.pk},
        ui_method="GET",
    ),
    case(
        "change a campaign",
        {"campaigns.edit"},
        "PATCH /campaigns/{campaign_id}",
        lambda w: f"{V1}/campaigns/{w.campaign.pk}",
        lambda w: {"name": "Autumn"},
        "campaigns:edit",
        args=lambda w: [w.campaign.pk],
        data=lambda w: {"name": "Autumn", "inbox": w.inbox.pk, "template": w.template.pk},
    ),
    case(
        "delete a campaign",
        {"campaigns.edit"},
        "DELETE /campaigns/{campaign_id}",
        lambda w: f"{V1}/campaigns/{w.campaign.pk}",
        None,
        "campaigns:delete",
        args=lambda w: [w.campaign.pk],
    ),
    *[
        case(
            f"{verb} a campaign",
            {"campaigns.launch"},
            f"POST /campaigns/{{campaign_id}}/{verb}",
            lambda w, verb=verb: f"{V1}/campaigns/{w.campaign.pk}/{verb}",
            None,
            f"campaigns:{verb}",
            args=lambda w: [w.campaign.pk],
        )
        for verb in ("launch", "pause", "resume", "cancel")
    ],
    # --- calendar (setup has its pages under Settings → Calendar, calendar_app/settings_views.py;
    # booking has its pages in the contact panels, calendar_app/booking_views.py; later steps are
    # on the calendar page, calendar_app/views.py)
    case(
        "add a calendar resource",
        {"calendar.manage"},
        "POST /calendar/resources",
        lambda w: f"{V1}/calendar/resources",
        lambda w: {"name": "Room 1", "kind": "room"},
        "settings:calendar-resource-create",
        data=lambda w: {"name": "Room 1", "kind": "room", "is_active": "on"},
    ),
    case(
        "change a calendar resource",
        {"calendar.manage"},
        "PATCH /calendar/resources/{resource_id}",
        lambda w: f"{V1}/calendar/resources/{10**9}",
        lambda w: {"name": "Room 2"},
        "settings:calendar-resource",
        args=lambda w: [10**9],
        data=lambda w: {"name": "Room 2", "kind": "room"},
    ),
    case(
        "remove a calendar resource",
        {"calendar.manage"},
        "DELETE /calendar/resources/{resource_id}",
        lambda w: f"{V1}/calendar/resources/{10**9}",
        None,
        "settings:calendar-resource-delete",
        args=lambda w: [10**9],
    ),
    case(
        "close a resource for a day",
        {"calendar.manage"},
        "POST /calendar/resources/{resource_id}/exceptions",
        lambda w: f"{V1}/calendar/resources/{10**9}/exceptions",
        lambda w: {"start_date": "2026-12-24"},
        "settings:calendar-exception-add",
        args=lambda w: [10**9],
        data=lambda w: {"start_date": "2026-12-24"},
    ),
    case(
        "turn a resource's calendar feed on",
        {"calendar.manage"},
        "POST /calendar/resources/{resource_id}/ics-feed",
        lambda w: f"{V1}/calendar/resources/{10**9}/ics-feed",
        lambda w: {"enabled": True},
        "settings:calendar-resource-feed",
        args=lambda w: [10**9],
        data=lambda w: {"enabled": "on"},
    ),
    case(
        "add an appointment type",
        {"calendar.manage"},
        "POST /calendar/types",
        lambda w: f"{V1}/calendar/types",
        lambda w: {"name": "Consultation"},
        "settings:calendar-type-create",
        data=lambda w: {"name": "Consultation", **TYPE_NUMBERS},
    ),
    case(
        "change an appointment type",
        {"calendar.manage"},
        "PATCH /calendar/types/{type_id}",
        lambda w: f"{V1}/calendar/types/{10**9}",
        lambda w: {"name": "Follow-up"},
        "settings:calendar-type",
        args=lambda w: [10**9],
        data=lambda w: {"name": "Follow-up", **TYPE_NUMBERS},
    ),
    case(
        "remove an appointment type",
        {"calendar.manage"},
        "DELETE /calendar/types/{type_id}",
        lambda w: f"{V1}/calendar/types/{10**9}",
        None,
        "settings:calendar-type-delete",
        args=lambda w: [10**9],
    ),
    case(
        "hold an appointment",
        {"calendar.book"},
        "POST /appointments",
        lambda w: f"{V1}/appointments",
        lambda w: {
            "type_id": 10**9,
            "resource_ids": [10**9],
            "contact_id": w.ana.pk,
            "start": "2026-12-24T10:00:00+00:00",
        },
        "calendar-booking:hold",
        args=lambda w: [w.ana.pk],
        data=lambda w: {"type": 10**9, "slot": f"{10**9}@2026-12-24T10:00:00+00:00"},
    ),
    *(
        case(
            f"{step} an appointment",
            {"calendar.book"},
            f"POST /appointments/{{appointment_id}}/{step}",
            lambda w, step=step: f"{V1}/appointments/{10**9}/{step}",
            None,
            f"calendar-booking:{step}",
            args=lambda w: [10**9],
        )
        for step in ("confirm", "cancel")
    ),
    *(
        case(
            f"{step} an appointment",
            {"calendar.book"},
            f"POST /appointments/{{appointment_id}}/{step}",
            lambda w, step=step: f"{V1}/appointments/{10**9}/{step}",
            (lambda w: {"start": "2026-12-24T11:00:00+00:00"}) if step == "reschedule" else None,
            # The calendar page: the detail panel's buttons, and its move form (or a drag).
            f"calendar:appointment-{'move' if step == 'reschedule' else step}",
            args=lambda w: [10**9],
            data=(
                (lambda w: {"move_date": "2026-12-24", "move_time": "11:00"})
                if step == "reschedule"
                else None
            ),
        )
        for step in ("reschedule", "complete", "no-show")
    ),
    # --- notifications ---
    case(
        "post a lifecycle event",
        {"notifications.send_events"},
        "POST /events",
        lambda w: f"{V1}/events",
        lambda w: {"type": "booking.confirmed", "contact": {"id": w.ana.pk}},
    ),
    case(
        "cancel a scheduled notification",
        {"notifications.manage"},
        "POST /notifications/{notification_id}/cancel",
        lambda w: f"{V1}/notifications/{10**9}/cancel",
        None,
        "notifications:cancel",
        args=lambda w: [10**9],
    ),
]

# Writes only the API offers, and why the pages do not.
API_ONLY = {
    "add contacts to a list by id": "The pages add to lists with a bulk operation "
    "(`add contacts to a list in bulk`).",
    "preview a filter": "A read sent as POST (the filter is a body); the contacts page previews "
    "with GET /contacts/?…",
    "post a lifecycle event": "Host systems (a booking platform, a CRM) post events; people do "
    "not.",
}
# Writes only the pages offer, and why the API does not.
UI_ONLY = {
    "take it oneself": "An API token is nobody: it cannot take a conversation for itself.",
}

MULTIPART = object()  # the import's body: a CSV file, sent as multipart/form-data


def _route_key(method: str, path: str) -> str:
    return f"{method} {re.sub('/+', '/', '/' + path)}"


def write_routes() -> dict[str, Any]:
    """Every write operation of the API, by "METHOD /path" as its router declares the path."""
    assert get_resolver().url_patterns  # loading the URLconf mounts the apps' routers
    routes = {}
    for prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            for operation in path_view.operations:
                for method in set(operation.methods) & WRITES:
                    routes[_route_key(method, f"{prefix}{path}")] = operation
    return routes


def test_every_write_route_has_a_case():
    routes = write_routes()
    assert len(routes) >= 45
    covered = {c.route for c in CASES if c.route}
    assert sorted(set(routes) - covered) == [], "add a case (with its page twin) for these"
    assert sorted(covered - set(routes)) == [], "these cases name routes that do not exist"
    for c in CASES:
        assert (c.ui is None) == (c.name in API_ONLY), c.name
        assert (c.route is None) == (c.name in UI_ONLY), c.name


def test_each_case_needs_at_least_what_its_route_and_page_declare():
    """The table agrees with the decorators: a case cannot expect less than the route or the
    view itself checks (``@permission_required`` / ``@require_permission``)."""
    routes = write_routes()
    for c in CASES:
        declared = set()
        if c.route:
            declared.add(routes[c.route].view_func.required_permission)
        if c.ui:
            view = resolve(reverse(c.ui, args=[1] * _arg_count(c))).func
            declared.add(view.required_permission)
        assert declared <= c.needs, (c.name, declared)


def _arg_count(c: Case) -> int:
    return len(c.ui_args(SimpleNamespace(**{k: SimpleNamespace(pk=1) for k in WORLD_ROWS})))


WORLD_ROWS = [
    *["agent_token", "owner_token", "conv", "colleague", "team", "ana", "loner", "member"],
    *["attribute", "blocked", "list", "segment", "bulk", "template", "spare_template"],
    *["campaign", "inbox", "macro"],
]


@pytest.fixture
def world(tenant, owner, make_member):
    roles = {r.builtin: r for r in Role.objects.filter(tenant=tenant, builtin__in=ROLES)}
    members = {role: owner if role == "owner" else make_member(tenant, role) for role in ROLES}
    tokens = {role: token_for(tenant, role) for role in ROLES}
    inbox = make_inbox(tenant)
    ana, loner = make_contact(tenant, name="Ana"), make_contact(tenant, name="Lone")
    segment = do_create_segment(tenant, name="All", filters={})
    contact_list = do_create_list(tenant, name="VIP")
    from campaigns.models import Campaign, MessageTemplate

    template = MessageTemplate.objects.create(
        tenant=tenant, name="Welcome", channel="sms", body="Hi"
    )
    w = SimpleNamespace(
        tenant=tenant,
        roles=roles,
        members=members,
        tokens=tokens,
        inbox=inbox,
        conv=make_conversation(inbox, ana),
        colleague=make_member(tenant, "agent", email="colleague@example.test"),
        team=do_create_team(tenant, name="Sales"),
        ana=ana,
        loner=loner,
        member=HouseholdMember.objects.create(
            tenant=tenant, contact=ana, name="Luis", relationship="spouse"
        ),
        attribute=AttributeDefinition.objects.create(tenant=tenant, key="tier", label="Tier"),
        blocked=BlockedAddress.objects.create(tenant=tenant, kind="phone", value="+14155550123"),
        list=contact_list,
        segment=segment,
        bulk=do_start_bulk_operation(
            tenant, action="add_to_list", params={"list_id": contact_list.pk}, ids=[ana.pk]
        ),
        template=template,
        spare_template=MessageTemplate.objects.create(
            tenant=tenant, name="Spare", channel="sms", body="Hey"
        ),
        campaign=Campaign.objects.create(
            tenant=tenant, name="Spring", inbox=inbox, template=template
        ),
    )
    w.macro = do_create_macro(tenant, name="Done")
    do_add_macro_step(w.macro, kind="close")
    w.agent_token = ApiToken.objects.get(tenant=tenant, role__builtin="agent")
    w.owner_token = ApiToken.objects.get(tenant=tenant, role__builtin="owner")
    return w


def _signed_in(user, tenant) -> Client:
    client = Client()
    client.force_login(user)
    session = client.session
    session[SESSION_KEY] = tenant.pk
    session.save()
    return client


def _api_status(client: Client, c: Case, w, raw: str) -> int:
    method, _ = c.route.split(" ", 1)
    body = c.api_body(w) if c.api_body else None
    if body is MULTIPART:
        upload = SimpleUploadedFile("people.csv", b"name,phone\nAna,+14155550111\n", "text/csv")
        return client.post(c.api_url(w), {"file": upload}, **bearer(raw)).status_code
    return client.generic(
        method,
        c.api_url(w),
        data=json.dumps(body) if body is not None else "",
        content_type="application/json",
        **bearer(raw),
    ).status_code


def _ui_status(client: Client, c: Case, w) -> int:
    url = reverse(c.ui, args=c.ui_args(w))
    if c.ui_method == "GET":
        return client.get(url, c.ui_data(w)).status_code
    return client.post(url, c.ui_data(w)).status_code


def _rolled_back(call: Callable[..., int], *args: Any) -> int:
    """``call(*args)`` in a savepoint that is rolled back: every request meets the same rows."""
    with transaction.atomic():
        status = call(*args)
        transaction.set_rollback(True)
    return status


def test_pages_and_the_api_allow_the_same_writes_to_the_same_roles(world):
    w = world
    mismatches = []
    for role in ROLES:
        codenames = builtin_role_codenames(role)
        api_client = Client()
        ui_client = _signed_in(w.members[role], w.tenant)
        for c in CASES:
            expected = all(
                role == "owner" if need == OWNER else need in codenames for need in c.needs
            )
            outcomes = {}
            if c.route:
                outcomes["api"] = _rolled_back(_api_status, api_client, c, w, w.tokens[role])
            if c.ui:
                outcomes["ui"] = _rolled_back(_ui_status, ui_client, c, w)
            for adapter, status in outcomes.items():
                assert status not in (401, 405, 500), (role, c.name, adapter, status)
                if (status != 403) != expected:
                    mismatches.append(
                        (role, c.name, adapter, status, "allowed" if expected else "403")
                    )
    assert mismatches == [], "\n".join(map(str, mismatches))


def test_an_admin_cannot_revoke_the_owner_s_token_in_the_api(client, tenant):
    owner_raw, admin_raw = token_for(tenant, "owner"), token_for(tenant, "admin")
    owner_token = ApiToken.objects.get(tenant=tenant, role__builtin="owner")
    response = client.post(f"/api/v1/tokens/{owner_token.pk}/revoke", **bearer(admin_raw))
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "Only an owner can revoke an owner's API token."
    owner_token.refresh_from_db()
    assert owner_token.revoked_at is None
    assert client.get("/api/v1/me", **bearer(owner_raw)).status_code == 200
    refusal = AuditEvent.objects.get(action=AuditEvent.Action.PERMISSION_DENIED)
    assert refusal.actor_token.role.builtin == "admin"
    assert refusal.data["path"] == f"/api/v1/tokens/{owner_token.pk}/revoke"
    # An owner's token may.
    assert (
        client.post(f"/api/v1/tokens/{owner_token.pk}/revoke", **bearer(owner_raw)).status_code
        == 200
    )


def test_an_admin_cannot_revoke_the_owner_s_token_on_the_settings_page(tenant, owner, make_member):
    do_create_api_token(
        tenant, name="Owner's CRM", role=Role.objects.get(tenant=tenant, builtin="owner")
    )
    token = ApiToken.objects.get(tenant=tenant, name="Owner's CRM")
    admin = _signed_in(make_member(tenant, "admin"), tenant)
    revoke_url = reverse("settings:api-token-revoke", args=[token.pk])
    page = admin.get(reverse("settings:api-tokens")).content.decode()
    assert revoke_url not in page and "only owners revoke it" in page
    response = admin.post(revoke_url)
    assert response.status_code == 403
    assert "Only an owner can revoke an owner&#x27;s API token." in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is None
    refusal = AuditEvent.objects.get(action=AuditEvent.Action.PERMISSION_DENIED)
    assert refusal.actor.email.startswith("admin")
    owner_client = _signed_in(owner, tenant)
    assert revoke_url in owner_client.get(reverse("settings:api-tokens")).content.decode()
    assert owner_client.post(revoke_url).status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_an_agent_token_cannot_give_a_conversation_to_someone_else(client, tenant, make_member):
    conversation = make_conversation(make_inbox(tenant))
    colleague = make_member(tenant, "agent", email="colleague@example.test")
    raw = token_for(tenant, "agent")
    url = f"/api/v1/conversations/{conversation.pk}"
    response = client.patch(
        url, {"assignee_id": colleague.pk}, content_type="application/json", **bearer(raw)
    )
    assert response.status_code == 403
    assert response.json()["error"]["permission"] == "conversations.assign_others"
    conversation.refresh_from_db()
    assert conversation.assignee_id is None
    supervisor = token_for(tenant, "supervisor")
    allowed = client.patch(
        url, {"assignee_id": colleague.pk}, content_type="application/json", **bearer(supervisor)
    )
    assert allowed.status_code == 200 and allowed.json()["assignee"]["id"] == colleague.pk
