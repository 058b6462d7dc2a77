import json
import os
import subprocess
import sys
from io import StringIO
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from omnichannel.actions import do_create_role
from omnichannel.models import ApiToken, AuditEvent, Membership, Tenant, hash_secret
from omnichannel.permissions import all_codenames

pytestmark = pytest.mark.django_db


def run(*args: str) -> dict:
    out = StringIO()
    call_command(*args, stdout=out)
    return json.loads(out.getvalue())


def test_it_creates_a_tenant_with_an_owner_and_a_full_permission_token():
    result = run(
        "create_tenant",
        "--name",
        "Initech",
        "--owner-email",
        "Boss@Initech.test",
        "--owner-password",
        "a long enough password 1",
    )
    tenant = Tenant.objects.get(pk=result["tenant_id"])
    assert tenant.name == "Initech"
    membership = Membership.objects.get(tenant=tenant)
    assert membership.role.builtin == "owner"
    assert membership.user.check_password("a long enough password 1")
    raw = result["api_token"]
    token = ApiToken.objects.get(tenant=tenant)
    assert token.token_hash == hash_secret(raw)
    assert token.role.codenames() == all_codenames()
    me = Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}").json()
    assert me["tenant"]["id"] == tenant.pk
    assert set(me["permissions"]) == all_codenames()


def test_it_shows_the_token_once_and_stores_only_its_hash():
    result = run("create_tenant", "--name", "Hooli", "--owner-email", "gavin@hooli.test")
    raw = result["api_token"]
    token = ApiToken.objects.get(tenant_id=result["tenant_id"])
    stored = json.dumps(list(ApiToken.objects.values()), default=str)
    stored += json.dumps(list(AuditEvent.objects.values()), default=str)
    assert raw not in stored
    listed = run("create_api_token", "--tenant", str(result["tenant_id"]))
    assert listed["api_token"] != raw
    assert token.hint == raw[: len(token.hint)]


def test_it_rejects_a_blank_tenant_name_without_creating_anything():
    with pytest.raises(CommandError, match="needs a name"):
        call_command("create_tenant", "--name", "  ", "--owner-email", "x@example.test")
    assert not Tenant.objects.exists()


def test_it_creates_an_api_token_with_a_builtin_role(tenant):
    result = run("create_api_token", "--tenant", str(tenant.pk), "--name", "CI", "--role", "Viewer")
    token = ApiToken.objects.get(pk=result["token_id"])
    assert (token.tenant, token.name, token.role.builtin) == (tenant, "CI", "viewer")
    assert result["role"] == "Viewer"
    assert token.token_hash == hash_secret(result["api_token"])
    event = AuditEvent.objects.get(action=AuditEvent.Action.API_TOKEN_CREATED, target_id=token.pk)
    assert event.tenant == tenant


def test_it_creates_an_api_token_with_a_custom_role(tenant):
    role = do_create_role(tenant, name="Auditor", codenames=["audit.view"])
    result = run("create_api_token", "--tenant", str(tenant.pk), "--role", "auditor")
    assert ApiToken.objects.get(pk=result["token_id"]).role == role


def test_it_defaults_to_the_agent_role_never_owner(tenant):
    result = run("create_api_token", "--tenant", str(tenant.pk))
    assert ApiToken.objects.get(pk=result["token_id"]).role.builtin == "agent"
    assert result["role"] == "Agent"


def test_it_fails_clearly_for_an_unknown_tenant(db):
    with pytest.raises(CommandError, match="no tenant with id 424242"):
        call_command("create_api_token", "--tenant", "424242")


def test_it_fails_clearly_for_an_unknown_role(tenant):
    with pytest.raises(CommandError, match=r"no role “Janitor”.*Owner, Admin"):
        call_command("create_api_token", "--tenant", str(tenant.pk), "--role", "Janitor")
    assert not ApiToken.objects.filter(tenant=tenant).exists()


def test_it_refuses_a_role_of_another_tenant(tenant, other_tenant):
    do_create_role(other_tenant, name="Globex auditor", codenames=["audit.view"])
    with pytest.raises(CommandError, match="no role"):
        call_command("create_api_token", "--tenant", str(tenant.pk), "--role", "Globex auditor")


def test_it_refuses_tokens_for_an_inactive_tenant(tenant):
    Tenant.objects.filter(pk=tenant.pk).update(is_active=False)
    with pytest.raises(CommandError, match="inactive"):
        call_command("create_api_token", "--tenant", str(tenant.pk))


def test_it_exits_non_zero_with_the_message_on_stderr(tenant):
    """Run as from a shell: CommandError becomes exit status 1 and a line on stderr."""
    from django.conf import settings
    from django.db import connection

    # The same server, but the test database (the other one may not be migrated).
    url = urlsplit(os.environ["DATABASE_URL"])._replace(path="/" + connection.settings_dict["NAME"])
    process = subprocess.run(
        [sys.executable, "manage.py", "create_api_token", "--tenant", "424242"],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DATABASE_URL": urlunsplit(url)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode == 1, process.stderr
    assert "There is no tenant with id 424242." in process.stderr
    assert process.stdout == ""
