from allauth.account import auth_backends as allauth_backends
from allauth.account.adapter import DefaultAccountAdapter
from django.contrib.auth import backends as auth_backends
from django.contrib.auth import get_user_model
from django.http import HttpRequest


class AccountAdapter(DefaultAccountAdapter):
    """People join Centro through an invitation or `create_tenant`, never by open signup."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False


class _WithPreference:
    """Loads the signed-in user with their preferences (theme, time zone), which every page
    reads: one query on each request instead of two."""

    def get_user(self, user_id):
        users = get_user_model()._default_manager.select_related("preference")
        try:
            user = users.get(pk=user_id)
        except users.model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None


class ModelBackend(_WithPreference, auth_backends.ModelBackend):
    """Django's password backend (admin, tests' logins, invitations)."""


class AuthenticationBackend(_WithPreference, allauth_backends.AuthenticationBackend):
    """allauth's (the login page)."""
