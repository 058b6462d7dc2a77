import pytest

from omnichannel.models import UserPreference

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_switches_theme_at_once_and_remembers_it(signed_in_page, asgi_server, owner):
    page = signed_in_page
    html = page.locator("html")
    assert html.get_attribute("data-theme") == "dark"
    # The page switches at once; the choice is saved by a request it does not wait for.
    with page.expect_response(lambda r: r.request.method == "POST") as saved:
        page.click("[data-theme-toggle]")
        assert html.get_attribute("data-theme") == "light"
    assert saved.value.ok
    page.reload()
    assert page.locator("html").get_attribute("data-theme") == "light"
    assert UserPreference.objects.get(user=owner).theme == "light"


def test_it_runs_no_script_the_policy_blocks(page, asgi_server, owner):
    from tests.conftest import PASSWORD

    violations = []
    page.on("console", lambda m: m.type == "error" and violations.append(m.text))
    page.goto(f"{asgi_server.url}/accounts/login/")
    page.fill('input[name="login"]', owner.email)
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    page.wait_for_url(f"{asgi_server.url}/inbox/")
    assert page.evaluate("typeof htmx") == "object"
    assert violations == []


def test_it_collapses_navigation_on_a_phone_width_screen(browser, asgi_server, owner):
    from tests.conftest import PASSWORD

    context = browser.new_context(viewport={"width": 390, "height": 800})
    page = context.new_page()
    page.goto(f"{asgi_server.url}/accounts/login/")
    page.fill('input[name="login"]', owner.email)
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    page.wait_for_url(f"{asgi_server.url}/inbox/")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    context.close()
