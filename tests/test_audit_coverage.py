"""Every write action (``do_*``) of every app either writes an audit row or says why not.

The actions are discovered by importing every module of every app of this project (a new app
and a new ``do_*`` are found without editing this file). :data:`AUDITED` says how to call each
audited action (a small factory receiving :class:`World`); :data:`EXEMPT` names the others with
a one-line reason. An action in neither fails :func:`test_every_write_action_is_audited_or_exempt`
with what to do.
"""

import datetime
import importlib
import inspect
import pkgutil
from collections.abc import Callable
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from omnichannel.models import AuditEvent

PROJECT = Path(settings.BASE_DIR).resolve()
SKIPPED_PACKAGES = ("migrations", "management", "tests")


def _project_apps() -> list:
    return [
        config
        for config in apps.get_app_configs()
        if Path(config.path).resolve().is_relative_to(PROJECT)
        and ".venv" not in Path(config.path).resolve().parts
    ]


def discover_actions() -> dict[str, Callable]:
    """``{"module.do_name": function}`` for every ``do_*`` function defined in the apps."""
    found: dict[str, Callable] = {}
    for config in _project_apps():
        package = importlib.import_module(config.name)
        modules = [package]
        if hasattr(package, "__path__"):
            for info in pkgutil.walk_packages(package.__path__, prefix=f"{config.name}."):
                if any(part in SKIPPED_PACKAGES for part in info.name.split(".")):
                    continue
                modules.append(importlib.import_module(info.name))
        for module in modules:
            for name, value in vars(module).items():
                if (
                    name.startswith("do_")
                    and inspect.isfunction(value)
                    and value.__module__ == module.__name__
                ):
                    found[f"{module.__name__}.{name}"] = value
    return found


# --- the world the factories act in --------------------------------------------------------------


class World:
    """A tenant with an owner, an SMS inbox, a contact in a conversation, and helpers that
    make whatever else an action needs. Built lazily: each factory pays for what it uses."""

    def __init__(self, tenant, owner, make_member):
        self.tenant = tenant
        self.owner = owner
        self.make_member = make_member
        self._inbox = None
        self._contact = None

    @property
    def owner_membership(self):
        from omnichannel.models import Membership

        return Membership.objects.get(tenant=self.tenant, user=self.owner)

    @property
    def inbox(self):
        if self._inbox is None:
            from tests.inbox.api_factories import make_inbox

            self._inbox = make_inbox(self.tenant)
        return self._inbox

    @property
    def contact(self):
        if self._contact is None:
            from contacts.models import Contact, ContactPhone

            self._contact = Contact.objects.create(
                tenant=self.tenant, name="Ana García", phone="+14155550111"
            )
            ContactPhone.objects.create(
                tenant=self.tenant, contact=self._contact, number="+14155550111", is_primary=True
            )
        return self._contact

    def conversation(self):
        from tests.inbox.api_factories import make_conversation, make_message

        conversation = make_conversation(self.inbox, self.contact)
        make_message(conversation, direction="in", body="Hola")
        return conversation

    def role(self, name="Helpers"):
        from omnichannel.actions import do_create_role

        return do_create_role(self.tenant, name=name, codenames=["conversations.view"])

    def membership(self, role="agent"):
        from omnichannel.models import Membership

        user = self.make_member(self.tenant, role)
        return Membership.objects.get(tenant=self.tenant, user=user)

    def invitation(self):
        from omnichannel.actions import do_invite_member
        from omnichannel.models import Role

        role = Role.objects.get(tenant=self.tenant, builtin="agent")
        return do_invite_member(self.tenant, email="new@example.test", role=role)

    def token(self):
        from omnichannel.actions import do_create_api_token
        from omnichannel.models import Role

        role = Role.objects.get(tenant=self.tenant, builtin="agent")
        return do_create_api_token(self.tenant, name="CI", role=role)[0]

    def label(self):
        from omnichannel.labels import do_create_label

        return do_create_label(self.tenant, name="VIP")

    def canned(self):
        from inbox.actions.labels import do_create_canned_response

        return do_create_canned_response(self.tenant, shortcut="hi", title="Hi", body="Hello!")

    def team(self):
        from inbox.actions.teams import do_create_team

        return do_create_team(self.tenant, name="Sales")

    def template(self):
        from campaigns.services import do_save_template

        return do_save_template(self.tenant, name="Hello", channel="sms", body="Hi!")

    def media(self, template):
        from campaigns.media import do_add_template_media

        return do_add_template_media(template, png())

    def contact_list(self, *contacts):
        from contacts.lists import add_members, do_create_list

        contact_list = do_create_list(self.tenant, name="Audience")
        add_members(contact_list, [c.pk for c in contacts])
        return contact_list

    def segment(self):
        from contacts.lists import do_create_segment

        return do_create_segment(self.tenant, name="Madrid", filters={"q": "Madrid"})

    def campaign(self, *, launched=False, paused=False):
        from campaigns.lifecycle import do_launch_campaign, do_pause_campaign, do_save_campaign

        data = {
            "name": "Winter sale",
            "inbox": self.inbox.pk,
            "template": self.template().pk,
            "lists": [self.contact_list(self.contact).pk],
            "quiet_hours": False,
        }
        campaign = do_save_campaign(self.tenant, data)
        if launched or paused:
            campaign = do_launch_campaign(campaign)
        if paused:
            campaign = do_pause_campaign(campaign)
        return campaign

    def household_member(self):
        from contacts.households import do_add_household_member

        return do_add_household_member(self.contact, name="Leo", relationship="child")

    def attribute(self):
        from contacts.attribute_definitions import do_create_attribute_definition

        return do_create_attribute_definition(self.tenant, key="tier", label="Tier")

    def blocked(self):
        from contacts.blocklist import do_block_address

        return do_block_address(self.tenant, kind="phone", value="+14155550199")[0]

    def bulk(self):
        from contacts.bulk import do_start_bulk_operation

        return do_start_bulk_operation(
            self.tenant,
            action="set_attribute",
            params={"key": self.attribute().key, "value": "X"},
            ids=[self.contact.pk],
        )

    def import_job(self, *, started=False):
        from contacts.imports.services import check_upload, do_create_import, do_start_import

        data = b"Name,Phone\r\nLuis,+14155550150\r\n"
        raw, sniffed = check_upload(SimpleUploadedFile("c.csv", data, content_type="text/csv"))
        job = do_create_import(self.tenant, filename="c.csv", data=raw, sniffed=sniffed)
        if started:
            job = do_start_import(
                job, mapping={"Name": "name", "Phone": "phone"}, on_existing="skip"
            )
        return job

    def notification(self):
        from notifications.actions import do_post_event
        from notifications.models import Notification

        do_post_event(
            self.tenant,
            {
                "type": "booking.confirmed",
                "contact": {"id": self.contact.pk},
                "data": {
                    "booking_id": "B-1",
                    "destination": "Cancún",
                    "trip_date": "2099-12-20",
                    "return_date": "2099-12-27",
                },
                "idempotency_key": "k-1",
            },
        )
        return Notification.objects.filter(
            tenant=self.tenant, status=Notification.Status.SCHEDULED
        ).first()

    def notification_rule(self):
        from notifications.models import NotificationRule

        return NotificationRule.objects.filter(tenant=self.tenant).first()

    def event_type(self):
        from notifications.models import EventType

        return EventType.objects.filter(tenant=self.tenant, key="booking.confirmed").get()

    def calendar_resource(self):
        from calendar_app.actions import do_save_resource

        return do_save_resource(
            self.tenant, name="Ana", weekly=[(0, datetime.time(9), datetime.time(17))]
        )

    def notification_template(self):
        from notifications.models import NotificationTemplate

        return NotificationTemplate.objects.filter(tenant=self.tenant).first()


PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def png() -> SimpleUploadedFile:
    return SimpleUploadedFile("photo.png", PNG, content_type="image/png")


def _evolution_inbox(w: World):
    """An Evolution inbox on a fake server (left running: a daemon thread, one per run)."""
    from tests.fakes import evolution
    from tests.inbox.evolution_helpers import make_evo_inbox

    return make_evo_inbox(w.tenant, evolution.start())


def _call(path: str, *args, **kwargs):
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)(*args, **kwargs)


def _google_connect(w: World) -> Callable[[], object]:
    """Connect a Google account through the fake Google (the code exchange is real HTTP)."""
    from django.test import override_settings

    from calendar_app.google import simulator

    def act():
        server = simulator.start()
        try:
            with override_settings(
                GOOGLE_OAUTH_CLIENT_ID=simulator.CLIENT_ID,
                GOOGLE_OAUTH_CLIENT_SECRET=simulator.CLIENT_SECRET,
                GOOGLE_OAUTH_TOKEN_URL=f"{server.base_url}/token",
                GOOGLE_CALENDAR_API_URL=server.api_url,
            ):
                return _call(
                    "calendar_app.google.actions.do_connect_google",
                    w.tenant,
                    membership=w.owner_membership,
                    code=server.grant(),
                    code_verifier="v" * 64,
                    redirect_uri="https://centro.example/calendar/google/callback/",
                )
        finally:
            server.shutdown()
            server.server_close()

    return act


def _google_disconnect(w: World) -> Callable[[], object]:
    from calendar_app.google.models import GoogleConnection

    connection = GoogleConnection.objects.create(
        tenant=w.tenant, user=w.owner, email="ana@acme.test", refresh_token="1//r-token"
    )
    return lambda: _call(
        "calendar_app.google.actions.do_disconnect_google",
        connection,
        membership=w.owner_membership,
    )


# --- the table ------------------------------------------------------------------------------------

# Each audited action: how to call it once (what it needs is made first, then the count of
# audit rows is taken, then this runs).
Factory = Callable[[World], Callable[[], object]]

AUDITED: dict[str, Factory] = {
    # calendar_app.google: a Google account's refresh token is a credential
    "calendar_app.google.actions.do_connect_google": _google_connect,
    "calendar_app.google.actions.do_disconnect_google": _google_disconnect,
    # omnichannel
    "omnichannel.actions.do_create_tenant": lambda w: (
        lambda: _call(
            "omnichannel.actions.do_create_tenant", name="Initech", owner_email="boss@initech.test"
        )
    ),
    "omnichannel.actions.do_set_mfa_requirement": lambda w: (
        lambda: _call(
            "omnichannel.actions.do_set_mfa_requirement",
            w.tenant,
            required=True,
            acting_user=w.owner,
        )
    ),
    "omnichannel.actions.do_update_tenant_settings": lambda w: (
        lambda: _call(
            "omnichannel.actions.do_update_tenant_settings",
            w.tenant,
            name="Acme Travel SL",
            timezone_name="Europe/Madrid",
            default_region="ES",
        )
    ),
    "omnichannel.actions.do_create_role": lambda w: lambda: w.role(),
    "omnichannel.actions.do_update_role": lambda w: (
        lambda role: (
            lambda: _call("omnichannel.actions.do_update_role", role, codenames=["contacts.view"])
        )
    )(w.role()),
    "omnichannel.actions.do_delete_role": lambda w: (
        lambda role: lambda: _call("omnichannel.actions.do_delete_role", role)
    )(w.role()),
    "omnichannel.actions.do_change_member_role": lambda w: (
        lambda m, role: lambda: _call("omnichannel.actions.do_change_member_role", m, role=role)
    )(w.membership(), w.role()),
    "omnichannel.actions.do_remove_member": lambda w: (
        lambda m: lambda: _call("omnichannel.actions.do_remove_member", m)
    )(w.membership()),
    "omnichannel.actions.do_invite_member": lambda w: lambda: w.invitation(),
    "omnichannel.actions.do_accept_invitation": lambda w: (
        lambda raw: (
            lambda: _call(
                "omnichannel.actions.do_accept_invitation", raw, password="a long pass phrase 9"
            )
        )
    )(w.invitation()[1]),
    "omnichannel.actions.do_revoke_invitation": lambda w: (
        lambda invitation: lambda: _call("omnichannel.actions.do_revoke_invitation", invitation)
    )(w.invitation()[0]),
    "omnichannel.actions.do_create_api_token": lambda w: lambda: w.token(),
    "omnichannel.actions.do_revoke_api_token": lambda w: (
        lambda token: lambda: _call("omnichannel.actions.do_revoke_api_token", token)
    )(w.token()),
    "omnichannel.actions.do_delete_tenant": lambda w: (
        lambda: _call("omnichannel.actions.do_delete_tenant", w.tenant, confirm_name=w.tenant.name)
    ),
    # contacts
    "contacts.actions.do_set_consent": lambda w: (
        lambda: _call(
            "contacts.actions.do_set_consent",
            w.contact,
            channel="sms",
            sender=w.inbox.address,
            status="opted_out",
            source="inbound_keyword",
        )
    ),
    "contacts.attribute_definitions.do_create_attribute_definition": lambda w: (
        lambda: w.attribute()
    ),
    "contacts.attribute_definitions.do_update_attribute_definition": lambda w: (
        lambda d: (
            lambda: _call(
                "contacts.attribute_definitions.do_update_attribute_definition",
                d,
                label="Level",
                type="text",
            )
        )
    )(w.attribute()),
    "contacts.attribute_definitions.do_delete_attribute_definition": lambda w: (
        lambda d: lambda: _call("contacts.attribute_definitions.do_delete_attribute_definition", d)
    )(w.attribute()),
    "contacts.blocklist.do_block_address": lambda w: lambda: w.blocked(),
    "contacts.blocklist.do_unblock_address": lambda w: (
        lambda b: lambda: _call("contacts.blocklist.do_unblock_address", b)
    )(w.blocked()),
    "contacts.bulk.do_start_bulk_operation": lambda w: lambda: w.bulk(),
    "contacts.bulk.do_cancel_bulk_operation": lambda w: (
        lambda op: lambda: _call("contacts.bulk.do_cancel_bulk_operation", op)
    )(w.bulk()),
    "contacts.gdpr.do_export_contact": lambda w: (
        lambda c: lambda: _call("contacts.gdpr.do_export_contact", c)
    )(w.contact),
    "contacts.gdpr.do_erase_contact": lambda w: (
        lambda c: lambda: _call("contacts.gdpr.do_erase_contact", c)
    )(w.contact),
    "contacts.households.do_add_household_member": lambda w: (
        lambda c: lambda: w.household_member()
    )(w.contact),
    "contacts.households.do_update_household_member": lambda w: (
        lambda m: (
            lambda: _call(
                "contacts.households.do_update_household_member",
                m,
                name="Leon",
                relationship="child",
            )
        )
    )(w.household_member()),
    "contacts.households.do_confirm_household_member": lambda w: (
        lambda m: lambda: _call("contacts.households.do_confirm_household_member", m)
    )(_unconfirmed_member(w)),
    "contacts.households.do_remove_household_member": lambda w: (
        lambda m: lambda: _call("contacts.households.do_remove_household_member", m)
    )(w.household_member()),
    "contacts.imports.services.do_start_import": lambda w: (
        lambda job: (
            lambda: _call(
                "contacts.imports.services.do_start_import",
                job,
                mapping={"Name": "name", "Phone": "phone"},
                on_existing="skip",
            )
        )
    )(w.import_job()),
    "contacts.imports.services.do_cancel_import": lambda w: (
        lambda job: lambda: _call("contacts.imports.services.do_cancel_import", job)
    )(w.import_job(started=True)),
    "contacts.lists.do_create_list": lambda w: lambda: w.contact_list(),
    "contacts.lists.do_update_list": lambda w: (
        lambda lst: lambda: _call("contacts.lists.do_update_list", lst, name="Renamed")
    )(w.contact_list()),
    "contacts.lists.do_delete_list": lambda w: (
        lambda lst: lambda: _call("contacts.lists.do_delete_list", lst)
    )(w.contact_list()),
    "contacts.lists.do_change_list_members": lambda w: (
        lambda lst, c: lambda: _call("contacts.lists.do_change_list_members", lst, add=[c.pk])
    )(w.contact_list(), w.contact),
    "contacts.lists.do_create_segment": lambda w: lambda: w.segment(),
    "contacts.lists.do_update_segment": lambda w: (
        lambda seg: lambda: _call("contacts.lists.do_update_segment", seg, name="Madrileños")
    )(w.segment()),
    "contacts.lists.do_delete_segment": lambda w: (
        lambda seg: lambda: _call("contacts.lists.do_delete_segment", seg)
    )(w.segment()),
    "contacts.merge.do_merge_contacts": lambda w: (
        lambda a, b: lambda: _call("contacts.merge.do_merge_contacts", a, b)
    )(w.contact, _other_contact(w)),
    "contacts.services.do_create_contact": lambda w: (
        lambda: _call("contacts.services.do_create_contact", w.tenant, fields={"name": "Luis"})
    ),
    "contacts.services.do_update_contact": lambda w: (
        lambda c: lambda: _call("contacts.services.do_update_contact", c, fields={"city": "Lima"})
    )(w.contact),
    "contacts.services.do_set_attributes": lambda w: (
        lambda c, _d: lambda: _call("contacts.services.do_set_attributes", c, {"tier": "gold"})
    )(w.contact, w.attribute()),
    "contacts.services.do_add_phone": lambda w: (
        lambda c: lambda: _call("contacts.services.do_add_phone", c, "+14155550122")
    )(w.contact),
    "contacts.services.do_remove_phone": lambda w: (
        lambda c: lambda: _call("contacts.services.do_remove_phone", c, c.phones.get())
    )(w.contact),
    "contacts.services.do_make_primary_phone": lambda w: (
        lambda c: (
            lambda: _call(
                "contacts.services.do_make_primary_phone", c, c.phones.get(number="+14155550122")
            )
        )
    )(_call("contacts.services.do_add_phone", w.contact, "+14155550122")),
    "contacts.services.do_add_email": lambda w: (
        lambda c: lambda: _call("contacts.services.do_add_email", c, "ana@example.test")
    )(w.contact),
    "contacts.services.do_remove_email": lambda w: (
        lambda c: lambda: _call("contacts.services.do_remove_email", c, c.emails.get())
    )(_call("contacts.services.do_add_email", w.contact, "ana@example.test")),
    "contacts.services.do_make_primary_email": lambda w: (
        lambda c: (
            lambda: _call(
                "contacts.services.do_make_primary_email", c, c.emails.get(email="b@example.test")
            )
        )
    )(
        _call(
            "contacts.services.do_add_email",
            _call("contacts.services.do_add_email", w.contact, "a@example.test"),
            "b@example.test",
        )
    ),
    "contacts.services.do_delete_contact": lambda w: (
        lambda c: lambda: _call("contacts.services.do_delete_contact", c)
    )(_other_contact(w)),
    "contacts.services.do_label_contact": lambda w: (
        lambda c, label: lambda: _call("contacts.services.do_label_contact", c, label)
    )(w.contact, w.label()),
    "contacts.services.do_unlabel_contact": lambda w: (
        lambda c, label: lambda: _call("contacts.services.do_unlabel_contact", c, label)
    )(*_labelled_contact(w)),
    "contacts.services.do_change_consent": lambda w: (
        lambda c, inbox: (
            lambda: _call(
                "contacts.services.do_change_consent",
                c,
                channel="sms",
                sender=inbox.address,
                status="opted_out",
            )
        )
    )(w.contact, w.inbox),
    # inbox
    "inbox.actions.conversations.do_delete_conversation": lambda w: (
        lambda conv: lambda: _call("inbox.actions.conversations.do_delete_conversation", conv)
    )(w.conversation()),
    "inbox.actions.inboxes.do_create_inbox": lambda w: lambda: w.inbox,
    "inbox.actions.linking.do_start_link": lambda w: (
        lambda inbox: lambda: _call("inbox.actions.linking.do_start_link", inbox)
    )(_evolution_inbox(w)),
    "inbox.actions.inboxes.do_update_inbox": lambda w: (
        lambda inbox: lambda: _call("inbox.actions.inboxes.do_update_inbox", inbox, name="Desk")
    )(w.inbox),
    "inbox.actions.inboxes.do_update_inbox_credentials": lambda w: (
        lambda inbox: (
            lambda: _call(
                "inbox.actions.inboxes.do_update_inbox_credentials",
                inbox,
                changes={"auth_token": "a-new-token"},
            )
        )
    )(w.inbox),
    "omnichannel.labels.do_create_label": lambda w: lambda: w.label(),
    "omnichannel.labels.do_update_label": lambda w: (
        lambda label: lambda: _call("omnichannel.labels.do_update_label", label, color="red")
    )(w.label()),
    "omnichannel.labels.do_delete_label": lambda w: (
        lambda label: lambda: _call("omnichannel.labels.do_delete_label", label)
    )(w.label()),
    "inbox.actions.labels.do_create_canned_response": lambda w: lambda: w.canned(),
    "inbox.actions.labels.do_update_canned_response": lambda w: (
        lambda canned: (
            lambda: _call(
                "inbox.actions.labels.do_update_canned_response", canned, body="Hello there!"
            )
        )
    )(w.canned()),
    "inbox.actions.labels.do_delete_canned_response": lambda w: (
        lambda canned: lambda: _call("inbox.actions.labels.do_delete_canned_response", canned)
    )(w.canned()),
    "inbox.actions.bridge.do_link_unmatched": lambda w: (
        lambda unmatched: (
            lambda: _call(
                "inbox.actions.bridge.do_link_unmatched", unmatched, w.contact, acting_user=w.owner
            )
        )
    )(_unmatched(w)),
    "inbox.actions.macros.do_create_macro": lambda w: lambda: _macro(w),
    "inbox.actions.macros.do_update_macro": lambda w: (
        lambda macro: lambda: _call("inbox.actions.macros.do_update_macro", macro, name="Spam")
    )(_macro(w)),
    "inbox.actions.macros.do_delete_macro": lambda w: (
        lambda macro: lambda: _call("inbox.actions.macros.do_delete_macro", macro)
    )(_macro(w)),
    "inbox.actions.macros.do_add_macro_step": lambda w: (
        lambda macro: lambda: _call("inbox.actions.macros.do_add_macro_step", macro, kind="close")
    )(_macro(w)),
    "inbox.actions.macros.do_move_macro_step": lambda w: (
        lambda steps: lambda: _call("inbox.actions.macros.do_move_macro_step", steps[1], up=True)
    )(_macro_steps(w)),
    "inbox.actions.macros.do_remove_macro_step": lambda w: (
        lambda steps: lambda: _call("inbox.actions.macros.do_remove_macro_step", steps[0])
    )(_macro_steps(w)),
    "inbox.actions.macros.do_run_macro": lambda w: (
        lambda conversation, steps: (
            lambda: _call(
                "inbox.actions.macros.do_run_macro",
                conversation,
                steps[0].macro,
                acting_user=w.owner,
            )
        )
    )(w.conversation(), _macro_steps(w)),
    "inbox.actions.teams.do_create_team": lambda w: lambda: w.team(),
    "inbox.actions.teams.do_delete_team": lambda w: (
        lambda team: lambda: _call("inbox.actions.teams.do_delete_team", team)
    )(w.team()),
    "inbox.actions.teams.do_add_team_member": lambda w: (
        lambda team: lambda: _call("inbox.actions.teams.do_add_team_member", team, w.owner)
    )(w.team()),
    "inbox.actions.teams.do_remove_team_member": lambda w: (
        lambda team: lambda: _call("inbox.actions.teams.do_remove_team_member", team, w.owner)
    )(_team_with_owner(w)),
    "inbox.actions.teams.do_configure_inbox_assignment": lambda w: (
        lambda inbox, team: (
            lambda: _call(
                "inbox.actions.teams.do_configure_inbox_assignment",
                inbox,
                team=team,
                auto_assign=True,
            )
        )
    )(w.inbox, w.team()),
    # campaigns
    "campaigns.lifecycle.do_launch_campaign": lambda w: (
        lambda c: lambda: _call("campaigns.lifecycle.do_launch_campaign", c)
    )(w.campaign()),
    "campaigns.lifecycle.do_save_campaign": lambda w: (
        lambda inbox, template: (
            lambda: _call(
                "campaigns.lifecycle.do_save_campaign",
                w.tenant,
                {"name": "Draft", "inbox": inbox.pk, "template": template.pk},
            )
        )
    )(w.inbox, w.template()),
    "campaigns.lifecycle.do_delete_campaign": lambda w: (
        lambda c: lambda: _call("campaigns.lifecycle.do_delete_campaign", c)
    )(w.campaign()),
    "campaigns.lifecycle.do_pause_campaign": lambda w: (
        lambda c: lambda: _call("campaigns.lifecycle.do_pause_campaign", c)
    )(w.campaign(launched=True)),
    "campaigns.lifecycle.do_resume_campaign": lambda w: (
        lambda c: lambda: _call("campaigns.lifecycle.do_resume_campaign", c)
    )(w.campaign(paused=True)),
    "campaigns.lifecycle.do_cancel_campaign": lambda w: (
        lambda c: lambda: _call("campaigns.lifecycle.do_cancel_campaign", c)
    )(w.campaign(launched=True)),
    "campaigns.media.do_add_template_media": lambda w: (lambda t: lambda: w.media(t))(w.template()),
    "campaigns.media.do_remove_template_media": lambda w: (
        lambda m: lambda: _call("campaigns.media.do_remove_template_media", m)
    )(w.media(w.template())),
    "campaigns.media.do_delete_template": lambda w: (
        lambda t: lambda: _call("campaigns.media.do_delete_template", t)
    )(w.template()),
    "campaigns.services.do_save_template": lambda w: lambda: w.template(),
    # notifications
    "notifications.actions.do_save_template": lambda w: (
        lambda t: (
            lambda: _call(
                "notifications.actions.do_save_template",
                w.tenant,
                key=t.key,
                language=t.language,
                name="Renamed",
                body=t.body,
                subject=t.subject,
                category=t.category,
                template=t,
            )
        )
    )(w.notification_template()),
    "notifications.actions.do_save_event_type": lambda w: (
        lambda: _call(
            "notifications.actions.do_save_event_type",
            w.tenant,
            key="order.shipped",
            name="Order shipped",
            data_keys=["order_id"],
        )
    ),
    "notifications.actions.do_save_rule": lambda w: (
        lambda rule: (
            lambda: _call(
                "notifications.actions.do_save_rule",
                w.tenant,
                name="Renamed rule",
                event_type=rule.event_type,
                template=rule.template,
                channels=rule.channels,
                timing=rule.timing,
                offset=rule.offset,
                unit=rule.unit,
                date_key=rule.date_key,
                rule=rule,
            )
        )
    )(w.notification_rule()),
    "notifications.actions.do_cancel_notification": lambda w: (
        lambda n: lambda: _call("notifications.actions.do_cancel_notification", n)
    )(w.notification()),
    "notifications.unsubscribe.do_unsubscribe": lambda w: (
        lambda token: lambda: _call("notifications.unsubscribe.do_unsubscribe", token)
    )(
        _call(
            "notifications.unsubscribe.unsubscribe_token",
            w.contact,
            channel="email",
            sender="news@acme.test",
        )
    ),
    # calendar setup (appointments themselves are their own record: see EXEMPT)
    "calendar_app.actions.do_save_resource": lambda w: lambda: w.calendar_resource(),
    "calendar_app.actions.do_set_weekly_availability": lambda w: (
        lambda r: (
            lambda: _call(
                "calendar_app.actions.do_set_weekly_availability",
                r,
                [(0, datetime.time(8), datetime.time(12))],
            )
        )
    )(w.calendar_resource()),
    "calendar_app.actions.do_add_availability_exception": lambda w: (
        lambda r: (
            lambda: _call(
                "calendar_app.actions.do_add_availability_exception",
                r,
                start_date=datetime.date(2026, 12, 24),
            )
        )
    )(w.calendar_resource()),
    "calendar_app.actions.do_remove_availability_exception": lambda w: (
        lambda e: lambda: _call("calendar_app.actions.do_remove_availability_exception", e)
    )(
        _call(
            "calendar_app.actions.do_add_availability_exception",
            w.calendar_resource(),
            start_date=datetime.date(2026, 12, 24),
        )
    ),
    "calendar_app.actions.do_set_ics_token": lambda w: (
        lambda r: lambda: _call("calendar_app.actions.do_set_ics_token", r)
    )(w.calendar_resource()),
    "calendar_app.actions.do_delete_resource": lambda w: (
        lambda r: lambda: _call("calendar_app.actions.do_delete_resource", r)
    )(w.calendar_resource()),
    "calendar_app.actions.do_save_appointment_type": lambda w: (
        lambda r: (
            lambda: _call(
                "calendar_app.actions.do_save_appointment_type",
                w.tenant,
                name="Visit",
                resources=[r],
            )
        )
    )(w.calendar_resource()),
    "calendar_app.actions.do_delete_appointment_type": lambda w: (
        lambda t: lambda: _call("calendar_app.actions.do_delete_appointment_type", t)
    )(_call("calendar_app.actions.do_save_appointment_type", w.tenant, name="Visit")),
}


def _unconfirmed_member(w: World):
    from contacts.households import apply_automated_household

    apply_automated_household(w.contact, [{"name": "Mia", "relationship": "child"}], source="api")
    return w.contact.household.get(name="Mia")


def _other_contact(w: World):
    from contacts.models import Contact

    return Contact.objects.create(tenant=w.tenant, name="Luis", phone="+14155550133")


def _labelled_contact(w: World):
    from contacts.services import do_label_contact

    label = w.label()
    do_label_contact(w.contact, label)
    return w.contact, label


def _unmatched(w: World):
    """A Chatwoot contact that matched nobody, waiting in a Chatwoot inbox to be linked."""
    from inbox.models import Inbox, UnmatchedContact

    inbox = Inbox.objects.create(
        tenant=w.tenant, name="Chatwoot", kind="chatwoot", provider="chatwoot", address="cw#1/7"
    )
    return UnmatchedContact.objects.create(
        tenant=w.tenant, inbox=inbox, external_id="77", name="Jane", phone="+14155550123"
    )


def _macro(w: World):
    from inbox.actions.macros import do_create_macro

    return do_create_macro(w.tenant, name="Triage", acting_user=w.owner)


def _macro_steps(w: World):
    from inbox.actions.macros import do_add_macro_step

    macro = _macro(w)
    return [
        do_add_macro_step(macro, kind="add_note", note="Seen"),
        do_add_macro_step(macro, kind="close"),
    ]


def _team_with_owner(w: World):
    from inbox.actions.teams import do_add_team_member

    team = w.team()
    do_add_team_member(team, w.owner)
    return team


# Write actions that are not administration: no audit row, and why.
EXEMPT: dict[str, str] = {
    "contacts.actions.do_link_external_ids": (
        "provider traffic: a provider's id for the contact (a send or a webhook found it); "
        "a link made by hand is audited by do_link_unmatched"
    ),
    "inbox.actions.bridge.do_bridge_conversation": (
        "provider traffic: a helpdesk's conversation event (the webhook is journaled)"
    ),
    "inbox.actions.bridge.do_bridge_message": (
        "provider traffic: a helpdesk's message (the webhook is journaled)"
    ),
    "inbox.actions.bridge.do_match_bridged_contact": (
        "provider traffic: a helpdesk's contact matched, linked or set aside (on the timeline)"
    ),
    "inbox.actions.bridge.do_push_status": (
        "tells the helpdesk of a status change the conversation's own action made"
    ),
    "inbox.providers.chatwoot.attributes.do_push_contact_attributes": (
        "tells Chatwoot what Centro's own records say; changes nothing here but the link"
    ),
    "omnichannel.agent_notifications.do_notify": (
        "tells members of what another action did (that action audits itself if it must)"
    ),
    "omnichannel.agent_notifications.do_mark_notification_read": "a member's own read mark",
    "omnichannel.agent_notifications.do_mark_all_notifications_read": "a member's own read marks",
    "omnichannel.agent_notifications.do_forget_target_notifications": (
        "part of deleting a conversation or erasing a contact (both audited)"
    ),
    "omnichannel.agent_notifications.do_mark_target_notifications_read": (
        "a member's own read marks (they opened the conversation)"
    ),
    "omnichannel.agent_notifications.do_set_notification_preferences": (
        "a member's own choice of notifications (like their theme)"
    ),
    "omnichannel.agent_notifications.do_send_notification_digests": (
        "emails members their own unread notifications, as they asked"
    ),
    "omnichannel.actions.do_switch_tenant": "a person's own choice of tenant for their session",
    "omnichannel.actions.do_update_preferences": (
        "a person's own display settings (time zone, theme): they change only what they see"
    ),
    "contacts.imports.services.do_create_import": (
        "stores an uploaded file as a draft; nothing changes until do_start_import (audited)"
    ),
    "inbox.actions.assignment.do_auto_assign": (
        "routing a conversation; do_update_conversation writes the thread's system line"
    ),
    "inbox.actions.assignment.do_set_availability": "an agent's own presence (available/away)",
    "inbox.actions.conversations.do_update_conversation": (
        "conversation work (status, assignee, priority): each change leaves a system line "
        "naming who did it in the thread itself"
    ),
    "inbox.actions.email_messages.do_allow_remote_images": (
        "a display choice for one email (load its images)"
    ),
    "inbox.actions.labels.do_label_conversation": (
        "tagging a conversation is conversation work; the link keeps who added it"
    ),
    "inbox.actions.labels.do_unlabel_conversation": "untagging a conversation: conversation work",
    "inbox.actions.read_state.do_mark_read": "an agent's own read state",
    "inbox.actions.read_state.do_mark_unread": "an agent's own read state",
    "inbox.actions.read_state.do_set_pinned": "an agent's own pins",
    "inbox.actions.read_state.do_toggle_pin": "an agent's own pins",
    "inbox.actions.receive.do_receive_message": (
        "provider traffic: the message is the conversation record (the raw webhook is journaled)"
    ),
    "inbox.actions.receive.do_apply_status": "provider traffic: a delivery status callback",
    "inbox.actions.status_batches.do_apply_status_batch": (
        "provider traffic: delivery status callbacks, a batch of them"
    ),
    "inbox.actions.contact_signals.do_apply_read": "provider traffic: the contact read messages",
    "inbox.actions.contact_signals.do_note_contact_typing": "provider traffic: shown, not stored",
    "inbox.actions.chat_events.do_record_echo": "provider traffic: our own send confirmed",
    "inbox.actions.chat_events.do_apply_reaction": "provider traffic: a contact's tapback",
    "inbox.actions.chat_events.do_apply_edit": "provider traffic: a contact edited or unsent",
    "inbox.actions.chat_events.do_apply_group_change": "provider traffic: a group renamed",
    "inbox.actions.catch_up.do_catch_up": "provider traffic: messages read from the server",
    "inbox.actions.catch_up.do_record_health": "a periodic check's bookkeeping, every minute",
    "inbox.actions.linking.do_record_link_state": (
        "provider traffic: the link's state as the provider's webhooks report it"
    ),
    "inbox.actions.linking.do_refresh_link": "asks the provider how the pairing stands (polled)",
    "inbox.actions.catch_up.do_check_and_catch_up": "the two above, for one inbox",
    "inbox.actions.fallback.do_fall_back": (
        "delivery work: the second delivery and the reason are the record"
    ),
    "inbox.actions.fallback.do_fall_back_undelivered": "delivery work: do_fall_back per delivery",
    "inbox.actions.provider_signals.do_relay_agent_typing": "an agent's typing, passed on",
    "inbox.actions.provider_signals.do_relay_read": "an agent's reading, passed on",
    "inbox.actions.receive.do_fetch_attachment": "provider traffic: downloading received media",
    "inbox.actions.receive.do_mark_attachment_failed": "provider traffic: media download failed",
    "inbox.actions.receive_email.do_apply_email_event": (
        "provider traffic: delivery events (an opt-out they cause is audited by do_set_consent)"
    ),
    "inbox.actions.send.do_record_outbound_batch": (
        "a campaign's sends: the messages are the conversation record (the launch is audited)"
    ),
    "inbox.actions.send.do_send_message": (
        "messages are the conversation record itself, not administration"
    ),
    "inbox.actions.send.do_settle_stalled_deliveries": (
        "system maintenance; the outcome is recorded on each delivery"
    ),
    "notifications.actions.do_post_event": (
        "a host system's event: stored as an Event row with its idempotency key"
    ),
    "calendar_app.actions.do_hold": "an appointment is its own record (who made it, when)",
    "calendar_app.actions.do_book": "an appointment is its own record (who made it, when)",
    "calendar_app.actions.do_confirm": "appointment work: its state is the record",
    "calendar_app.confirmation.do_send_confirmation": (
        "a message to the contact through do_send_message: the message is the record"
    ),
    "calendar_app.actions.do_cancel": "appointment work: its state and cancelled_at are the record",
    "calendar_app.actions.do_reschedule": (
        "appointment work: its version counts the moves, each posted as a lifecycle event"
    ),
    "calendar_app.actions.do_complete": "appointment work: its state is the record",
    "calendar_app.actions.do_mark_no_show": "appointment work: its state is the record",
    "calendar_app.actions.do_release_expired_holds": "system maintenance (beat): holds expiring",
    "calendar_app.google.actions.do_map_google_calendar": (
        "calendar setup: which calendar of a connected account syncs with which resource"
    ),
    "calendar_app.google.actions.do_set_google_rule": (
        "calendar setup: what a change made in Google does to an appointment"
    ),
    "calendar_app.google.actions.do_mark_google_revoked": (
        "provider traffic: Google refused the refresh token (the connection shows when and why)"
    ),
    "calendar_app.google.sync.do_sync_calendar": (
        "provider traffic: Google's changes, applied through the calendar's own actions"
    ),
    "calendar_app.google.writeback.do_push_appointment": (
        "provider traffic: an appointment copied to Google (its event row is the record)"
    ),
    "calendar_app.google.push.do_watch_calendar": "provider traffic: a push channel opened",
}


def test_every_write_action_is_audited_or_exempt():
    discovered = set(discover_actions())
    listed = set(AUDITED) | set(EXEMPT)
    missing = sorted(discovered - listed)
    assert not missing, (
        "These write actions are neither audited nor exempt in tests/test_audit_coverage.py:\n  "
        + "\n  ".join(missing)
        + "\nIf the action changes configuration or people's data, write an audit row in it "
        "(omnichannel.audit.record, in the same transaction) and add a factory to AUDITED; "
        "otherwise add it to EXEMPT with a one-line reason."
    )
    stale = sorted(listed - discovered)
    assert not stale, f"Listed but no longer defined (remove them from the tables): {stale}"
    assert not set(AUDITED) & set(EXEMPT), "An action is both audited and exempt."


@pytest.fixture
def world(tenant, owner, make_member):
    return World(tenant, owner, make_member)


def _rows_written(world: World, factory: Factory) -> list[AuditEvent]:
    act = factory(world)
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    act()
    return list(AuditEvent.objects.filter(id__gt=last))


@pytest.mark.parametrize("action", sorted(AUDITED))
def test_the_action_writes_an_audit_row(action, world):
    rows = _rows_written(world, AUDITED[action])
    assert rows, f"{action} wrote no audit row"
    for row in rows:
        assert row.action in AuditEvent.Action.values
        if row.tenant_id is not None:
            assert row.target_type or row.data, f"{action}: {row.action} names no target"
