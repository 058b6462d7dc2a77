"""Quoted history and signatures: real replies in English and Spanish, and properties."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inbox.email_quotes import split_reply, strip_reply

GMAIL_EN = """Thanks, see you at 8.

On Wed, 2 Dec 2026 at 18:01, Acme Support <support@acme.test> wrote:
> Your booking 4411 is confirmed.
> See you soon!
"""

GMAIL_EN_WRAPPED = """Perfect.

On Wed, 2 Dec 2026 at 18:01, Acme Support Team of the Hotel <support@acme.test>
wrote:
> Your booking is confirmed.
"""

GMAIL_ES = """Hola,
ya hice el pago.

El mar., 1 dic 2026 a las 10:00, Acme Support (<support@acme.test>) escribió:
> Le enviamos la factura de diciembre.
"""

OUTLOOK_EN = """Please change the date to Friday.

-----Original Message-----
From: Acme Support <support@acme.test>
Sent: Tuesday, December 1, 2026 10:00 AM
To: Ana <ana@example.com>
Subject: Booking
"""

OUTLOOK_ES_HEADERS = """Confirmo la reserva.

________________________________
De: Acme Support <support@acme.test>
Enviado: martes, 1 de diciembre de 2026 10:00
Para: Carlos <carlos@example.org>
Asunto: Reserva
"""

OUTLOOK_ES_BARE_HEADERS = """Gracias!

De: Acme Support <support@acme.test>
Enviado el: martes, 1 de diciembre de 2026 10:00
Para: Carlos
"""

SIGNATURE = "See you then.\n\n-- \nAna García\nTravel planner\n"

IPHONE_EN = "Yes, please.\n\nSent from my iPhone\n"
IPHONE_ES = "Sí, por favor.\n\nEnviado desde mi iPhone\n"

INTERLEAVED = """> Do you want breakfast?
Yes, for two.
> Late check-out?
No thanks.
"""


@pytest.mark.parametrize(
    ("text", "visible"),
    [
        (GMAIL_EN, "Thanks, see you at 8."),
        (GMAIL_EN_WRAPPED, "Perfect."),
        (GMAIL_ES, "Hola,\nya hice el pago."),
        (OUTLOOK_EN, "Please change the date to Friday."),
        (OUTLOOK_ES_HEADERS, "Confirmo la reserva."),
        (OUTLOOK_ES_BARE_HEADERS, "Gracias!"),
        (SIGNATURE, "See you then."),
        (IPHONE_EN, "Yes, please."),
        (IPHONE_ES, "Sí, por favor."),
    ],
)
def test_it_strips_quoted_history_and_signatures(text, visible):
    assert strip_reply(text) == visible


def test_it_keeps_interleaved_answers():
    assert split_reply(INTERLEAVED) == (INTERLEAVED, "")


def test_it_keeps_everything_when_nothing_is_new():
    only_quote = "> forwarded line\n> another\n"
    assert split_reply(only_quote) == (only_quote, "")


def test_plain_text_mentioning_from_is_not_cut():
    text = "From: the airport we go straight to the hotel.\nThanks!"
    assert split_reply(text) == (text, "")


@given(st.text())
def test_visible_plus_quoted_is_always_the_original(text):
    visible, quoted = split_reply(text)
    assert visible + quoted == text


@given(
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1).filter(
        lambda t: t.strip() and not t.lstrip().startswith((">", "-", "_"))
    ),
    st.sampled_from([GMAIL_EN, GMAIL_ES, OUTLOOK_EN, IPHONE_ES]),
)
def test_a_reply_above_a_quote_keeps_the_reply(reply, quote):
    reply = " ".join(reply.splitlines())
    history = quote.split("\n\n", 1)[1]  # the quote without its own reply
    text = f"{reply}\n\n{history}"
    visible, quoted = split_reply(text)
    assert visible + quoted == text
    assert reply in visible
