"""Text from outside made safe to store and show: omnichannel.text."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnichannel.text import ascii_int, clean_note, clean_text, has_control_chars, shown


def test_clean_text_keeps_tabs_and_line_breaks_and_drops_other_control_characters():
    assert clean_text("a\x00b\tc\r\nd\x07e\x1bf\x7fg\x85h\ud800i") == "ab\tc\r\ndefghi"
    assert clean_text(None) == ""
    assert clean_text(12) == "12"


@given(st.text(st.characters(codec=None)))
def test_clean_text_always_gives_text_postgresql_can_store(text):
    cleaned = clean_text(text)
    assert "\x00" not in cleaned
    cleaned.encode("utf-8")  # no lone surrogate left


@pytest.mark.parametrize(
    ("value", "control"),
    [("SM123", False), ("Ana García 山田", False), ("a\tb", True), ("a\nb", True),
     ("a\x00", True), ("\x85", True), ("\ud800", True)],
)  # fmt: skip
def test_has_control_chars_counts_tabs_and_line_breaks_too(value, control):
    assert has_control_chars(value) is control


def test_shown_escapes_control_characters_and_cuts_long_values():
    assert shown("+1415\x00555\ud800") == "+1415\\x00555\\ud800"
    assert shown("x" * 100, 10) == "x" * 10 + "…"


def test_clean_note_is_cut():
    assert clean_note("a\x00" * 3000) == "a" * 2000


@pytest.mark.parametrize(
    ("value", "number"),
    [("0", 0), (" 12 ", 12), ("²", None), ("\u0661", None), ("1\x00", None), ("-1", None),
     ("1.0", None), ("", None), ("\uff11", None)],
)  # fmt: skip
def test_ascii_int_reads_ascii_digits_only(value, number):
    assert ascii_int(value) == number
