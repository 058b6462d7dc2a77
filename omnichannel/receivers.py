"""Audit rows for account events raised by Django auth and allauth."""

from allauth.account.signals import password_changed, password_reset, user_logged_in
from allauth.mfa.models import Authenticator
from allauth.mfa.signals import authenticator_added, authenticator_removed, authenticator_reset
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out, user_login_failed
from django.dispatch import receiver

from omnichannel import audit
from omnichannel.models import AuditEvent

Action = AuditEvent.Action


@receiver(user_logged_in, dispatch_uid="audit_login")
def audit_login(sender, request, user, **kwargs) -> None:
    audit.record(Action.LOGIN_SUCCEEDED, actor=user, target=user, request=request)


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def audit_login_failed(sender, credentials, request=None, **kwargs) -> None:
    # Credentials arrive with the password already masked by Django; keep only the identifier.
    identifier = str(credentials.get("email") or credentials.get("username") or "")[:200]
    user = get_user_model().objects.filter(email__iexact=identifier).first() if identifier else None
    audit.record(
        Action.LOGIN_FAILED,
        actor=user,
        request=request,
        data={"identifier": identifier},
    )


@receiver(user_logged_out, dispatch_uid="audit_logout")
def audit_logout(sender, request, user, **kwargs) -> None:
    if user is not None:
        audit.record(Action.LOGOUT, actor=user, target=user, request=request)


@receiver(password_changed, dispatch_uid="audit_password_changed")
def audit_password_changed(sender, request, user, **kwargs) -> None:
    audit.record(Action.PASSWORD_CHANGED, actor=user, target=user, request=request)


@receiver(password_reset, dispatch_uid="audit_password_reset")
def audit_password_reset(sender, request, user, **kwargs) -> None:
    audit.record(Action.PASSWORD_RESET, actor=user, target=user, request=request)


@receiver(authenticator_added, dispatch_uid="audit_mfa_added")
def audit_mfa_added(sender, request, user, authenticator, **kwargs) -> None:
    audit.record(
        Action.MFA_ENABLED,
        actor=user,
        target=user,
        request=request,
        data={"type": authenticator.type},
    )


@receiver(authenticator_removed, dispatch_uid="audit_mfa_removed")
def audit_mfa_removed(sender, request, user, authenticator, **kwargs) -> None:
    audit.record(
        Action.MFA_DISABLED,
        actor=user,
        target=user,
        request=request,
        data={"type": authenticator.type},
    )


@receiver(authenticator_reset, dispatch_uid="audit_mfa_reset")
def audit_mfa_reset(sender, request, user, authenticator, **kwargs) -> None:
    if authenticator.type == Authenticator.Type.RECOVERY_CODES:
        audit.record(
            Action.MFA_RECOVERY_CODES_REGENERATED, actor=user, target=user, request=request
        )
