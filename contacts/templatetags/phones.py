"""Phones as people read them (``{% load phones %}``): ``{% phone number %}`` and
``{% contact_label contact %}``, formatted for the tenant of the page being rendered.

Tags rather than filters: the format depends on the tenant's default region, which a filter
cannot see. Every page, htmx fragment and realtime push renders with its request (and so its
tenant); a rendering without one (an email to a person outside any tenant page) gets the
international format.
"""

from django import template
from django.template.context import Context

from contacts.phones import contact_display, format_phone

register = template.Library()


def region_of(context: Context) -> str:
    tenant = getattr(context.get("request"), "tenant", None)
    return tenant.default_region if tenant is not None else ""


@register.simple_tag(takes_context=True)
def phone(context: Context, value: str) -> str:
    """``value`` (E.164) national in the tenant's region, else international; other
    addresses (email) as they are."""
    return format_phone(value, region_of(context))


@register.simple_tag(takes_context=True)
def contact_label(context: Context, contact) -> str:
    """The contact's name, else their formatted phone, else their email."""
    return contact_display(contact, region_of(context))
