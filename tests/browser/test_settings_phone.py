"""Every settings page on a 390 px phone: nothing wider than the screen (a wide table scrolls
inside its own box), in both themes. Screenshots go to .data/artifacts/."""

import pytest

from calendar_app.actions import do_save_appointment_type, do_save_resource
from omnichannel.actions import do_create_api_token, do_invite_member
from omnichannel.labels import do_create_label
from omnichannel.models import Role, UserPreference
from tests.browser.test_inbox import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def busy_settings(tenant, make_member):
    """Long names and addresses in every table, as a real tenant has them."""
    agent = Role.objects.get(tenant=tenant, builtin="agent")
    make_member(tenant, "supervisor", email="maria.fernanda.gonzalez-rodriguez@example.test")
    do_invite_member(tenant, email="juan.carlos.hernandez-villalobos@example.test", role=agent)
    do_create_api_token(tenant, name="Nightly CRM synchronisation (production)", role=agent)
    do_create_label(tenant, name="Seguimiento de reclamación")
    room = do_save_resource(
        tenant,
        name="Sala de reuniones principal (planta baja)",
        kind="room",
        timezone_name="America/Argentina/Buenos_Aires",
    )
    do_save_appointment_type(
        tenant, name="Consulta inicial de planificación de viaje", resources=[room]
    )


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_no_settings_page_is_wider_than_a_phone(browser, asgi_server, owner, busy_settings, theme):
    UserPreference.objects.update_or_create(user=owner, defaults={"theme": theme})
    phone = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    phone.set_default_timeout(10_000)
    sign_in(phone, asgi_server, owner)
    phone.goto(f"{asgi_server.url}/settings/")
    pages = phone.eval_on_selector_all(".settings-nav a", "links => links.map(a => a.href)")
    assert len(pages) >= 8, pages

    too_wide = {}
    for url in pages:
        phone.goto(url)
        width = phone.evaluate("document.documentElement.scrollWidth")
        if width > 390:
            too_wide[url.removeprefix(asgi_server.url)] = width
        name = url.removeprefix(asgi_server.url).strip("/").replace("/", "-")
        screenshot(phone, f"{name}-{theme}-390.png")
    phone.context.close()

    assert too_wide == {}
