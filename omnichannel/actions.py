"""Writes for the platform: tenants, members, invitations, roles, API tokens.

Each public action is atomic, writes its audit row in the same transaction, and raises
:class:`ActionError` with a message a person can act on when the request cannot be honoured.
"""

import secrets
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import CASCADE, SET_NULL
from django.http import HttpRequest
from django.utils import timezone
from django.utils.text import slugify

from omnichannel import audit, events, hooks, permissions
from omnichannel.models import (
    ApiToken,
    AuditEvent,
    Invitation,
    Membership,
    Role,
    Tenant,
    UserPreference,
    hash_secret,
)
from omnichannel.permissions import BuiltinRole
from omnichannel.tenancy import MissingPermission, require_owner, tenant_zone
from omnichannel.zones import zone_label

User = get_user_model()
Action = AuditEvent.Action


class ActionError(Exception):
    """A request the platform refuses, with a message meant for the person who made it."""

    def __init__(
        self, message: str, *, code: str = "invalid", retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retry_after = retry_after  # seconds, with code="rate_limited"


# How each ActionError code answers over HTTP (pages and API alike).
ACTION_ERROR_STATUS = {
    "not_found": 404,
    "forbidden": 403,
    "conflict": 409,
    "gone": 410,
    "rate_limited": 429,
    "blocked": 422,
}


def _user_of(acting: Membership | None):
    """The person behind an action, for audit rows (None for commands and the API)."""
    return acting.user if acting else None


# --- Tenants ----------------------------------------------------------------------------------


def ensure_builtin_roles(tenant: Tenant) -> dict[str, Role]:
    roles = {}
    for builtin in BuiltinRole:
        role, _ = Role.objects.get_or_create(
            tenant=tenant, builtin=builtin.value, defaults={"name": builtin.label}
        )
        roles[builtin.value] = role
    return roles


def _unique_slug(name: str) -> str:
    base = slugify(name)[:60] or "tenant"
    slug = base
    while Tenant.objects.filter(slug=slug).exists():
        slug = f"{base}-{secrets.token_hex(3)}"
    return slug


def get_or_create_user(email: str, *, password: str | None = None) -> tuple:
    """A user by (case-insensitive) email; new users get a verified primary address."""
    from allauth.account.models import EmailAddress

    email = User.objects.normalize_email(email.strip())
    user = User.objects.filter(email__iexact=email).first()
    if user is not None:
        return user, False
    user = User(username=email.lower()[:150], email=email)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    return user, True


@transaction.atomic
def do_create_tenant(
    *,
    name: str,
    owner_email: str,
    owner_password: str | None = None,
    acting_user=None,
    timezone_name: str = "UTC",
    default_region: str = "US",
) -> tuple[Tenant, Membership]:
    name = name.strip()
    if not name:
        raise ActionError("A tenant needs a name.")
    tenant = Tenant.objects.create(
        name=name,
        slug=_unique_slug(name),
        timezone=timezone_name,
        default_region=default_region.upper(),
    )
    roles = ensure_builtin_roles(tenant)
    owner, _ = get_or_create_user(owner_email, password=owner_password)
    membership = Membership.objects.create(tenant=tenant, user=owner, role=roles["owner"])
    for hook in hooks.on_tenant_created:
        hook(tenant)
    audit.record(
        Action.TENANT_CREATED,
        tenant=tenant,
        actor=acting_user,
        target=tenant,
        data={"owner": owner.email},
    )
    return tenant, membership


def _tenant_tables() -> tuple[list, list]:
    """What deleting a tenant touches, read from the models so that a new app's tables are
    included without a list to keep: ``(owned, links)``.

    ``owned`` are ``(model, tenant field)`` for the models whose rows belong to a tenant (a
    CASCADE foreign key to :class:`Tenant`), children before parents: PROTECT keys such as a
    campaign's inbox and template, a conversation's contact or a member's role point at rows
    deleted after them. ``links`` are ``(model, field)`` foreign keys into those rows from rows
    that are not deleted with them: many-to-many rows to delete, SET_NULL keys (a user's last
    tenant, a platform audit row's token) to clear."""
    from django.apps import apps

    every = apps.get_models(include_auto_created=True)
    owned = {}
    for model in every:
        for field in model._meta.concrete_fields:
            if (
                field.is_relation
                and field.related_model is Tenant
                and field.remote_field.on_delete is CASCADE
            ):
                owned[model] = field
    links = []
    for model in every:
        for field in model._meta.concrete_fields:
            target = field.related_model if field.is_relation else None
            if target is None or not (target in owned or target is Tenant):
                continue
            if model in owned and field.remote_field.on_delete is not SET_NULL:
                continue  # rows of the same tenant, deleted with it
            if owned.get(model) is field:
                continue
            links.append((model, field))
    order: list = []
    visiting: set = set()

    def visit(model) -> None:
        if model in order or model in visiting:
            return
        visiting.add(model)
        for other in owned:
            if other is not model and any(
                f.is_relation and f.related_model is model for f in other._meta.concrete_fields
            ):
                visit(other)
        visiting.discard(model)
        order.append(model)

    for model in sorted(owned, key=lambda m: m._meta.label):
        visit(model)
    return [(model, owned[model]) for model in order], links


def _delete_tenant_rows(tenant: Tenant) -> dict[str, int]:
    """One statement per table (a tenant's rows can be millions: nothing is loaded), in an
    order no foreign key objects to; returns the rows deleted per model."""
    owned, links = _tenant_tables()
    tenant_column = {model: field.column for model, field in owned}
    qn = connection.ops.quote_name
    counts: dict[str, int] = {}
    with connection.cursor() as cursor:
        for model, field in links:
            target = field.related_model
            table, column = qn(model._meta.db_table), qn(field.column)
            if target is Tenant:
                where = f"{column} = %s"
            else:
                parent_pk, parent = qn(target._meta.pk.column), qn(target._meta.db_table)
                parent_tenant = qn(tenant_column[target])
                where = f"{column} IN (SELECT {parent_pk} FROM {parent} WHERE {parent_tenant} = %s)"  # noqa: S608
            params = [tenant.pk]
            if model in tenant_column:  # only other tenants' (or platform) rows need clearing
                where += f" AND {qn(tenant_column[model])} IS DISTINCT FROM %s"
                params.append(tenant.pk)
            if field.remote_field.on_delete is SET_NULL:
                cursor.execute(f"UPDATE {table} SET {column} = NULL WHERE {where}", params)  # noqa: S608
            else:
                cursor.execute(f"DELETE FROM {table} WHERE {where}", params)  # noqa: S608
                counts[model._meta.label] = counts.get(model._meta.label, 0) + cursor.rowcount
        for model, field in owned:
            cursor.execute(
                f"DELETE FROM {qn(model._meta.db_table)} WHERE {qn(field.column)} = %s",  # noqa: S608
                [tenant.pk],
            )
            counts[model._meta.label] = cursor.rowcount
        cursor.execute(
            f"DELETE FROM {qn(Tenant._meta.db_table)} WHERE {qn(Tenant._meta.pk.column)} = %s",  # noqa: S608
            [tenant.pk],
        )
    return {label: count for label, count in counts.items() if count}


def _delete_tenant_files(tenant_id: int) -> None:
    """After commit: every stored file of the tenant lives under ``tenants/<id>/``."""
    from django.core.files.storage import default_storage

    def remove(folder: str) -> None:
        try:
            folders, files = default_storage.listdir(folder)
        except (FileNotFoundError, NotADirectoryError):
            return
        for name in files:
            default_storage.delete(f"{folder}/{name}")
        for name in folders:
            remove(f"{folder}/{name}")

    remove(f"tenants/{tenant_id}")


@transaction.atomic
def do_delete_tenant(
    tenant: Tenant,
    *,
    confirm_name: str,
    acting: Membership | None = None,
    request: HttpRequest | None = None,
) -> dict[str, int]:
    """Delete the tenant and everything it owns, for good, in one transaction.

    People must type the tenant's name; through the app only an owner may do it (``acting``,
    whose role must be the built-in Owner). The tenant's own audit trail goes with it, so the
    deletion is recorded on the platform (no tenant): who, and which tenant (id and name).
    Members keep their accounts and their other tenants; their open pages are told."""
    tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
    if (confirm_name or "").strip() != tenant.name:
        raise ActionError(
            f"Type the tenant's name, “{tenant.name}”, exactly to confirm the deletion."
        )
    if acting is not None and acting.tenant_id != tenant.pk:
        raise MissingPermission("Only an owner of the tenant can delete it.")
    require_owner(acting, doing="delete the tenant")
    members = list(Membership.objects.filter(tenant=tenant).values_list("user_id", flat=True))
    audit.record(
        Action.TENANT_DELETED,
        tenant=None,
        actor=_user_of(acting),
        target=tenant,
        request=request,
        data={"tenant_id": tenant.pk, "name": tenant.name, "slug": tenant.slug},
    )
    for user_id in members:
        events.publish(
            tenant,
            events.EventType.MEMBERSHIP_CHANGED,
            {"user_id": user_id, "role": None},
            users=[user_id],
        )
    counts = _delete_tenant_rows(tenant)
    tenant_id = tenant.pk
    transaction.on_commit(lambda: _delete_tenant_files(tenant_id))
    return counts


def do_switch_tenant(request: HttpRequest, *, tenant_id: int) -> Membership:
    from omnichannel.tenancy import SESSION_KEY, memberships_for

    membership = memberships_for(request.user).filter(tenant_id=tenant_id).first()
    if membership is None:
        raise ActionError("You are not a member of that tenant.", code="not_found")
    request.session[SESSION_KEY] = membership.tenant_id
    UserPreference.objects.update_or_create(
        user=request.user, defaults={"last_tenant": membership.tenant}
    )
    return membership


def check_preferred_zone(name: str) -> str:
    """A zone a person may choose for themselves: blank (their tenant's) or a known name."""
    from omnichannel.zones import zone_named

    name = name.strip()
    if name and zone_named(name) is None:
        raise ActionError(
            f"“{name}” is not a time zone we know; pick one from the list "
            "(such as America/Mexico_City), or leave it on your tenant's."
        )
    return name


def do_update_preferences(user, *, timezone_name: str, theme: str) -> UserPreference:
    """The person's own display settings (not audited: they change only what they see)."""
    if theme not in UserPreference.Theme.values:
        raise ActionError("Theme must be dark or light.")
    preference, _ = UserPreference.objects.update_or_create(
        user=user, defaults={"timezone": check_preferred_zone(timezone_name), "theme": theme}
    )
    return preference


@transaction.atomic
def do_set_mfa_requirement(
    tenant: Tenant, *, required: bool, acting_user, request: HttpRequest | None = None
) -> None:
    if tenant.require_mfa == required:
        return
    tenant.require_mfa = required
    tenant.save(update_fields=["require_mfa"])
    audit.record(
        Action.MFA_REQUIREMENT_CHANGED,
        tenant=tenant,
        actor=acting_user,
        target=tenant,
        request=request,
        data={"required": required},
    )


def check_timezone_name(name: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = name.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ActionError(f"“{name}” is not a known time zone (try Europe/Madrid).") from exc
    return name


def check_region(code: str) -> str:
    code = code.strip().upper()
    if len(code) != 2 or not (code.isascii() and code.isalpha()):
        raise ActionError(f"“{code}” is not a two-letter country code (such as US or ES).")
    return code


@transaction.atomic
def do_update_tenant_settings(
    tenant: Tenant,
    *,
    name: str,
    timezone_name: str,
    default_region: str,
    contact_hourly_limit: int | None = None,
    contact_reply_hourly_limit: int | None = None,
    require_mfa: bool | None = None,
    acting: Membership | None = None,
    request: HttpRequest | None = None,
) -> dict[str, list]:
    """Apply the General settings; returns ``{field: [old, new]}`` for what changed."""
    name = name.strip()
    if not name:
        raise ActionError("A tenant needs a name.")
    hourly = contact_hourly_limit or settings.INBOX_CONTACT_HOURLY_LIMIT
    if contact_reply_hourly_limit is not None and contact_reply_hourly_limit < hourly:
        raise ActionError(
            f"Replies per contact per hour ({contact_reply_hourly_limit}) must be at least the "
            f"messages per contact per hour ({hourly}): an agent answering is never held back "
            "more than an automated send."
        )
    wanted = {
        "name": name[:200],
        "timezone": check_timezone_name(timezone_name),
        "default_region": check_region(default_region),
        "contact_hourly_limit": contact_hourly_limit,
        "contact_reply_hourly_limit": contact_reply_hourly_limit,
    }
    changed = {
        field: [getattr(tenant, field), value]
        for field, value in wanted.items()
        if getattr(tenant, field) != value
    }
    if changed:
        for field, (_, value) in changed.items():
            setattr(tenant, field, value)
        tenant.save(update_fields=list(changed))
        audit.record(
            Action.TENANT_SETTINGS_CHANGED,
            tenant=tenant,
            actor=_user_of(acting),
            target=tenant,
            request=request,
            data={"changed": changed},
        )
    if require_mfa is not None:
        do_set_mfa_requirement(
            tenant,
            required=require_mfa,
            acting_user=_user_of(acting),
            request=request,
        )
    return changed


# --- Roles ------------------------------------------------------------------------------------


def _check_codenames(codenames: list[str]) -> list[str]:
    unknown = sorted(c for c in set(codenames) if not permissions.is_known(c))
    if unknown:
        raise ActionError(f"Unknown permissions: {', '.join(unknown)}.")
    return sorted(set(codenames))


def _check_can_grant(granter: Membership | ApiToken | None, codenames: frozenset[str]) -> None:
    """Nobody hands out more power than they hold (no privilege escalation)."""
    if granter is None:
        return
    beyond = sorted(codenames - granter.role.codenames())
    if beyond:
        raise MissingPermission(
            f"You cannot grant permissions you do not have: {', '.join(beyond)}.",
            codename=beyond[0] if len(beyond) == 1 else None,
        )


@transaction.atomic
def do_create_role(
    tenant: Tenant,
    *,
    name: str,
    codenames: list[str],
    description: str = "",
    acting: Membership | None = None,
    request: HttpRequest | None = None,
) -> Role:
    name = name.strip()
    if not name:
        raise ActionError("A role needs a name.")
    codenames = _check_codenames(codenames)
    _check_can_grant(acting, frozenset(codenames))
    if Role.objects.filter(tenant=tenant, name__iexact=name).exists():
        raise ActionError(f"A role named “{name}” already exists.", code="conflict")
    role = Role.objects.create(
        tenant=tenant, name=name, permissions=codenames, description=description
    )
    audit.record(
        Action.ROLE_CREATED,
        tenant=tenant,
        actor=_user_of(acting),
        target=role,
        request=request,
        data={"permissions": codenames},
    )
    return role


@transaction.atomic
def do_update_role(
    role: Role,
    *,
    codenames: list[str],
    name: str | None = None,
    acting: Membership | None = None,
    request: HttpRequest | None = None,
) -> Role:
    if role.is_builtin:
        raise ActionError("Built-in roles cannot be edited; create a custom role instead.")
    codenames = _check_codenames(codenames)
    before = sorted(role.permissions)
    _check_can_grant(acting, frozenset(codenames) - frozenset(before))
    if name is not None and name.strip() and name.strip() != role.name:
        if Role.objects.filter(tenant=role.tenant, name__iexact=name.strip()).exists():
            raise ActionError(f"A role named “{name.strip()}” already exists.", code="conflict")
        role.name = name.strip()
    role.permissions = codenames
    role.save(update_fields=["name", "permissions"])
    audit.record(
        Action.ROLE_CHANGED,
        tenant=role.tenant,
        actor=_user_of(acting),
        target=role,
        request=request,
        data={
            "added": sorted(set(codenames) - set(before)),
            "removed": sorted(set(before) - set(codenames)),
        },
    )
    return role


@transaction.atomic
def do_delete_role(
    role: Role, *, acting: Membership | None = None, request: HttpRequest | None = None
) -> None:
    if role.is_builtin:
        raise ActionError("Built-in roles cannot be deleted.")
    if role.memberships.exists() or role.api_tokens.filter(revoked_at__isnull=True).exists():
        raise ActionError("Move the members and tokens that use this role to another role first.")
    audit.record(
        Action.ROLE_DELETED,
        tenant=role.tenant,
        actor=_user_of(acting),
        target=role,
        request=request,
    )
    role.invitations.filter(accepted_at__isnull=True).update(revoked_at=timezone.now())
    role.delete()


# --- Members and invitations ------------------------------------------------------------------


def _owner_count(tenant: Tenant) -> int:
    return Membership.objects.filter(tenant=tenant, role__builtin=BuiltinRole.OWNER).count()


def _check_role_assignment(acting: Membership | None, role: Role) -> None:
    _check_can_grant(acting, role.codenames())
    if role.builtin == BuiltinRole.OWNER:
        require_owner(acting, doing="make someone an owner")


def _publish_membership_changed(membership: Membership, *, role: str | None) -> None:
    """Tell the member's open sockets, which re-check (and close when the membership is gone)."""
    events.publish(
        membership.tenant,
        events.EventType.MEMBERSHIP_CHANGED,
        {"user_id": membership.user_id, "role": role},
        users=[membership.user_id],
    )


@transaction.atomic
def do_change_member_role(
    membership: Membership,
    *,
    role: Role,
    acting: Membership | None = None,
    request: HttpRequest | None = None,
) -> Membership:
    if role.tenant_id != membership.tenant_id:
        raise ActionError("That role belongs to another tenant.", code="not_found")
    _check_role_assignment(acting, role)
    # Lock the tenant's owners so two concurrent demotions cannot leave it ownerless.
    list(
        Membership.objects.select_for_update().filter(
            tenant=membership.tenant, role__builtin=BuiltinRole.OWNER
        )
    )
    old_role = membership.role
    if old_role.pk == role.pk:
        return membership
    if old_role.builtin == BuiltinRole.OWNER:
        require_owner(acting, doing="change another owner's role")
        if _owner_count(membership.tenant) <= 1:
            raise ActionError("A tenant must keep at least one owner.", code="conflict")
    membership.role = role
    membership.save(update_fields=["role"])
    _publish_membership_changed(membership, role=role.name)
    audit.record(
        Action.MEMBER_ROLE_CHANGED,
        tenant=membership.tenant,
        actor=_user_of(acting),
        target=membership.user,
        request=request,
        data={"from": old_role.name, "to": role.name},
    )
    return membership


@transaction.atomic
def do_remove_member(
    membership: Membership, *, acting: Membership | None = None, request: HttpRequest | None = None
) -> None:
    list(
        Membership.objects.select_for_update().filter(
            tenant=membership.tenant, role__builtin=BuiltinRole.OWNER
        )
    )
    if membership.role.builtin == BuiltinRole.OWNER:
        require_owner(acting, doing="remove an owner")
        if _owner_count(membership.tenant) <= 1:
            raise ActionError("A tenant must keep at least one owner.", code="conflict")
    audit.record(
        Action.MEMBER_REMOVED,
        tenant=membership.tenant,
        actor=_user_of(acting),
        target=membership.user,
        request=request,
        data={"role": membership.role.name},
    )
    _publish_membership_changed(membership, role=None)
    membership.delete()


@transaction.atomic
def do_invite_member(
    tenant: Tenant,
    *,
    email: str,
    role: Role,
    acting: Membership | None = None,
    request: HttpRequest | None = None,
) -> tuple[Invitation, str]:
    """Create an invitation and return it with its raw token (to be emailed, never stored)."""
    email = User.objects.normalize_email(email.strip())
    if role.tenant_id != tenant.pk:
        raise ActionError("That role belongs to another tenant.", code="not_found")
    _check_role_assignment(acting, role)
    if Membership.objects.filter(tenant=tenant, user__email__iexact=email).exists():
        raise ActionError(f"{email} is already a member.", code="conflict")
    now = timezone.now()
    # An expired invitation still pending would block the unique constraint: retire it.
    Invitation.objects.filter(
        tenant=tenant,
        email__iexact=email,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__lte=now,
    ).update(revoked_at=now)
    raw = secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            invitation = Invitation.objects.create(
                tenant=tenant,
                email=email,
                role=role,
                token_hash=hash_secret(raw),
                invited_by=_user_of(acting),
                expires_at=now + settings.INVITATION_TTL,
            )
    except IntegrityError as exc:  # the constraint compares addresses case-insensitively
        raise ActionError(
            f"{email} already has a pending invitation; revoke it to send a new one.",
            code="conflict",
        ) from exc
    audit.record(
        Action.INVITATION_SENT,
        tenant=tenant,
        actor=_user_of(acting),
        target=invitation,
        request=request,
        data={"email": email, "role": role.name},
    )
    transaction.on_commit(lambda: _send_invitation_email(invitation.pk, raw))
    return invitation, raw


def invitation_url(raw_token: str) -> str:
    from django.urls import reverse

    return settings.PUBLIC_BASE_URL + reverse("invitation-accept", args=[raw_token])


def _send_invitation_email(invitation_id: int, raw_token: str) -> None:
    from django.core.mail import send_mail
    from django.template.loader import render_to_string

    invitation = Invitation.objects.select_related("tenant", "invited_by", "role").get(
        pk=invitation_id
    )
    # The invitee has no zone of their own yet: the tenant's, named (not the inviter's).
    zone = tenant_zone(invitation.tenant)
    context = {
        "invitation": invitation,
        "url": invitation_url(raw_token),
        "zone": zone_label(zone, invitation.expires_at),
    }
    with timezone.override(zone):
        message = render_to_string("omnichannel/email/invitation.txt", context)
    send_mail(
        subject=f"[Centro] You are invited to {invitation.tenant.name}",
        message=message,
        from_email=None,
        recipient_list=[invitation.email],
    )


def find_invitation(raw_token: str) -> Invitation | None:
    return (
        Invitation.objects.select_related("tenant", "role")
        .filter(token_hash=hash_secret(raw_token))
        .first()
    )


def check_invitation_usable(invitation: Invitation | None, now: datetime | None = None) -> None:
    if invitation is None or invitation.revoked_at is not None:
        raise ActionError("This invitation link is not valid. Ask for a new one.", code="not_found")
    if invitation.accepted_at is not None:
        raise ActionError("This invitation has already been used. Sign in instead.", code="gone")
    if invitation.is_expired(now):
        raise ActionError(
            "This invitation has expired. Ask a tenant admin to invite you again.", code="gone"
        )


@transaction.atomic
def do_accept_invitation(
    raw_token: str, *, user=None, password: str | None = None, request: HttpRequest | None = None
) -> Membership:
    """Accept as the signed-in ``user`` (whose email must match) or create the account."""
    invitation = (
        Invitation.objects.select_for_update()
        .select_related("tenant", "role")
        .filter(token_hash=hash_secret(raw_token))
        .first()
    )
    check_invitation_usable(invitation)
    if user is not None and user.is_authenticated:
        if user.email.lower() != invitation.email.lower():
            raise ActionError(
                f"This invitation is for {invitation.email}; you are signed in as {user.email}.",
                code="forbidden",
            )
    else:
        if User.objects.filter(email__iexact=invitation.email).exists():
            raise ActionError(
                f"An account for {invitation.email} exists already: sign in to accept.",
                code="conflict",
            )
        if not password:
            raise ActionError("Choose a password to create your account.")
        user, _ = get_or_create_user(invitation.email, password=password)
    membership, _ = Membership.objects.get_or_create(
        tenant=invitation.tenant, user=user, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit.record(
        Action.INVITATION_ACCEPTED,
        tenant=invitation.tenant,
        actor=user,
        target=invitation,
        request=request,
        data={"role": invitation.role.name},
    )
    return membership


@transaction.atomic
def do_revoke_invitation(
    invitation: Invitation, *, acting: Membership | None = None, request: HttpRequest | None = None
) -> None:
    if not invitation.is_pending:
        return
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    audit.record(
        Action.INVITATION_REVOKED,
        tenant=invitation.tenant,
        actor=_user_of(acting),
        target=invitation,
        request=request,
    )


# --- API tokens -------------------------------------------------------------------------------


@transaction.atomic
def do_create_api_token(
    tenant: Tenant,
    *,
    name: str,
    role: Role,
    acting: Membership | None = None,
    acting_token: ApiToken | None = None,
    request: HttpRequest | None = None,
) -> tuple[ApiToken, str]:
    """Create a token; the raw value is returned once and only its hash is stored.

    ``acting_token`` is the API token making the request, when it comes through the API: it
    cannot mint a token more powerful than itself, and the audit row names it.
    """
    name = name.strip()
    if not name:
        raise ActionError("Give the token a name that says what uses it.")
    if role.tenant_id != tenant.pk:
        raise ActionError("That role belongs to another tenant.", code="not_found")
    granter = acting_token if acting_token is not None else acting
    _check_can_grant(granter, role.codenames())
    if role.builtin == BuiltinRole.OWNER:
        require_owner(granter, doing="create a token with the Owner role")
    raw = ApiToken.generate()
    token = ApiToken.objects.create(
        tenant=tenant,
        name=name[:100],
        role=role,
        token_hash=hash_secret(raw),
        hint=raw[:10],
        created_by=_user_of(acting),
    )
    audit.record(
        Action.API_TOKEN_CREATED,
        tenant=tenant,
        actor=_user_of(acting),
        token=acting_token,
        target=token,
        request=request,
        data={"role": role.name},
    )
    return token, raw


@transaction.atomic
def do_revoke_api_token(
    token: ApiToken,
    *,
    acting: Membership | None = None,
    acting_token: ApiToken | None = None,
    request: HttpRequest | None = None,
) -> None:
    """Revoke ``token`` (repeats are no-ops). An owner's token (one with the built-in Owner
    role) can only be revoked by an owner, or an owner's token: an admin cannot lock the owner's
    integrations out. Checked here for the settings page and the API alike."""
    if token.role.builtin == BuiltinRole.OWNER:
        require_owner(
            acting_token if acting_token is not None else acting,
            doing="revoke an owner's API token",
        )
    if token.revoked_at is not None:
        return
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit.record(
        Action.API_TOKEN_REVOKED,
        tenant=token.tenant,
        actor=_user_of(acting),
        token=acting_token,
        target=token,
        request=request,
    )


def authenticate_api_token(raw: str) -> ApiToken | None:
    """The active token for ``raw``; ``last_used_at`` is refreshed at most once a minute."""
    if not raw.startswith(ApiToken.PREFIX) or len(raw) > 100:
        return None
    token = (
        ApiToken.objects.select_related("tenant", "role")
        .filter(token_hash=hash_secret(raw), revoked_at__isnull=True, tenant__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > settings.API_TOKEN_TOUCH_INTERVAL:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
