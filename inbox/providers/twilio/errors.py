"""Twilio error codes as sentences an agent understands (and acts on).

Twilio warns that codes and messages may change, so unknown codes get a generic sentence that
still names the code; the raw code is always kept next to the sentence.
Codes: https://www.twilio.com/docs/api/errors/{code}
"""

TWILIO_ERROR_MESSAGES: dict[str, str] = {
    # Asynchronous delivery errors (status callbacks).
    "30001": "Twilio's sending queue overflowed; the message was not sent. Try again later.",
    "30002": "The Twilio account is suspended; ask an admin to check the Twilio account.",
    "30003": "The recipient's phone is unreachable (switched off or out of coverage). "
    "Try again later.",
    "30004": "The message was blocked: the recipient or their carrier blocks messages "
    "from this number.",
    "30005": "The number is unknown to the carrier or no longer in service.",
    "30006": "The number is a landline or its carrier cannot receive text messages.",
    "30007": "The carrier filtered the message as spam or a policy violation. "
    "Review the content and the sender's registration.",
    "30008": "The carrier reported an unknown error. Try again later.",
    "30034": "The sender number is not registered for A2P 10DLC; US carriers block it.",
    "30036": "The message waited in the queue longer than its validity period and expired.",
    # Synchronous API errors that can also show up on a message.
    "21211": "The recipient's phone number is not valid.",
    "21408": "Sending to this country is not enabled on the Twilio account "
    "(Geo Permissions); ask an admin.",
    "21610": "The contact opted out (replied STOP) and cannot be messaged from this "
    "number until they reply START.",
    "21614": "The recipient's number is not a mobile number and cannot receive text messages.",
    # WhatsApp.
    "63003": "The recipient cannot be reached on WhatsApp (no WhatsApp account on this number).",
    "63014": "The contact blocked this WhatsApp sender or opted out on WhatsApp.",
    "63016": "Outside the WhatsApp 24-hour window: free-form messages are not allowed. "
    "Send an approved template instead.",
    "63024": "The recipient is not a valid WhatsApp recipient.",
}

# Codes meaning the person does not want messages from this sender.
OPT_OUT_ERROR_CODES = frozenset({"21610"})


def describe_twilio_error(code: str | int | None, fallback: str = "") -> str:
    """An agent-readable sentence for a Twilio error ``code`` (``""`` when there is none)."""
    code = str(code or "").strip()
    if not code:
        return fallback.strip()[:500]
    if code in TWILIO_ERROR_MESSAGES:
        return TWILIO_ERROR_MESSAGES[code]
    detail = f": {fallback.strip()}" if fallback and fallback.strip() else "."
    return f"The provider reported error {code}{detail}"[:500]
