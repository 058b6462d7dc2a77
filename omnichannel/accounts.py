from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest


class AccountAdapter(DefaultAccountAdapter):
    """People join Centro through an invitation or `create_tenant`, never by open signup."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False
