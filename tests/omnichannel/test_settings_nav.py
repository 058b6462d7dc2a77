"""The settings navigation: the core's sections and those the apps register, in one order, and
only those the member's role may see; the inbox's part on the core's labels page."""

import re

import pytest

from inbox.actions.labels import do_create_canned_response
from omnichannel.settings_nav import Section, register, sections

pytestmark = pytest.mark.django_db


def nav(response) -> list[tuple[str, str]]:
    body = response.content.decode()
    start = body.index('class="settings-nav"')
    block = body[start : body.index("</nav>", start)]
    return re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', block)


def test_it_shows_an_admin_every_section_the_core_and_the_apps_register(tenant, make_member, login):
    response = login(make_member(tenant, "admin")).get("/settings/general/")
    assert nav(response) == [
        ("/settings/general/", "General"),
        ("/settings/members/", "Members"),
        ("/settings/roles/", "Roles"),
        ("/settings/labels/", "Labels &amp; canned responses"),
        ("/settings/macros/", "Macros"),
        ("/settings/teams/", "Teams &amp; assignment"),
        ("/settings/calendar/", "Calendar"),
        ("/settings/channels/", "Channels"),
        ("/settings/api-tokens/", "API tokens"),
        ("/settings/audit/", "Audit trail"),
        ("/settings/notifications/", "Notifications"),
    ]


def test_it_shows_a_supervisor_only_the_sections_their_role_may_see(tenant, make_member, login):
    response = login(make_member(tenant, "supervisor")).get("/settings/notifications/")
    assert [label for _, label in nav(response)] == [
        "General",
        "Members",
        "Labels &amp; canned responses",
        "Macros",
        "Channels",
        "Notifications",
    ]
    assert '<a href="/settings/notifications/" aria-current="page">' in response.content.decode()


def test_the_core_labels_page_carries_the_inbox_canned_responses(tenant, owner, login):
    do_create_canned_response(tenant, shortcut="refund", title="Refund", body="We refund it.")
    body = login(owner).get("/settings/labels/").content.decode()
    assert body.index('id="labels"') < body.index('id="canned-responses"')
    assert "<code>/refund</code>" in body


def test_a_section_registered_again_is_kept_once_and_a_different_one_refused():
    teams = next(section for section in sections() if section.key == "teams")
    register(teams)
    assert [section.key for section in sections()].count("teams") == 1
    with pytest.raises(ValueError, match="registered twice"):
        register(Section("teams", "Teams", "teams.manage", position=1))
