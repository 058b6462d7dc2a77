"""Template placeholders: known variables and attributes, fallbacks, and every mistake named."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contacts.templating import TemplateError, check_template, placeholders, render

ATTRIBUTES = ["plan", "renewal_date"]


def test_it_lists_the_variables_a_body_uses():
    body = 'Hola {{firstName|default:"amigo"}}, tu plan {{ plan }} vence el {{renewal_date}}.'
    assert check_template(body, ATTRIBUTES) == ["firstName", "plan", "renewal_date"]


def test_it_names_every_unknown_variable():
    with pytest.raises(TemplateError) as exc:
        check_template("Hola {{frstName}} {{nombre}} {{plan}}", ATTRIBUTES)
    assert exc.value.problems == [
        "unknown variables “frstName”, “nombre”; use city, country, email, firstName, lastName, "
        "name, phone or a custom attribute's key"
    ]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ("Hola {{firstName", "“{{firstName” at character 6"),
        ("Hola firstName}} ya", "“}} ya” at character 15"),
        ("Hola {{first name}}", "“{{first name}}” at character 6"),
        ("Hola {{firstName|default:amigo}}", "at character 6"),
    ],
)
def test_it_refuses_malformed_placeholders_saying_where(body, where):
    with pytest.raises(TemplateError) as exc:
        check_template(body, ATTRIBUTES)
    assert where in exc.value.problems[0]
    assert "is not a placeholder" in exc.value.problems[0]


def test_it_renders_values_then_fallbacks_then_nothing():
    body = (
        'Hola {{firstName|default:"amigo"}} {{lastName}}, plan: {{plan|default:"básico \\"B\\""}}.'
    )
    assert render(body, {"firstName": "Lucía", "plan": "gold"}) == "Hola Lucía , plan: gold."
    assert render(body, {}) == 'Hola amigo , plan: básico "B".'


def test_emoji_and_accents_pass_through_untouched():
    assert render("¡Hola {{firstName}}! 🎉✈️", {"firstName": "Zoë"}) == "¡Hola Zoë! 🎉✈️"


@given(st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=200))
def test_text_without_braces_is_its_own_rendering(text):
    assert placeholders(text) == []
    assert render(text, {"firstName": "x"}) == text
