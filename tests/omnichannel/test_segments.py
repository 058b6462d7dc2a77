"""SMS segments: GSM-7 and UCS-2 limits, the extension table, emoji."""

from decimal import Decimal

import pytest

from omnichannel.segments import segment_info


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "GSM-7", 0, 0),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # extension characters take two septets
        ("€" * 81, "GSM-7", 162, 2),
        ("Ñoño ¿qué tal? ¡Hola!", "GSM-7", 21, 1),  # Spanish mostly fits GSM-7…
        ("¡Sí!", "UCS-2", 4, 1),  # … but not í, ó, ú or á
        ("á" * 70, "UCS-2", 70, 1),  # á is not GSM-7 (à is)
        ("á" * 71, "UCS-2", 71, 2),
        ("🎉" * 35, "UCS-2", 70, 1),  # an emoji is two UTF-16 units
        ("🎉" * 36, "UCS-2", 72, 2),
        ("x" * 134 + "🎉", "UCS-2", 136, 3),
    ],
)
def test_it_counts_segments_like_the_carriers(text, encoding, units, segments):
    info = segment_info(text)
    assert (info.encoding, info.units, info.segments) == (encoding, units, segments)


def test_it_says_which_characters_forced_ucs2_and_what_it_costs():
    info = segment_info("Hola Ramón, tu vuelo 🛫 sale mañana " + "x" * 40)
    assert info.non_gsm == "ó🛫"
    assert info.segments == 2
    assert info.cost(Decimal("0.0079")) == Decimal("0.0158")
