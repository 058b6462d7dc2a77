"""How many SMS segments a text costs: GSM-7 when every character is in the GSM 03.38
alphabet, UCS-2 otherwise (one emoji then turns a whole message into 70-character parts).

GSM-7: 160 septets in one segment, 153 per segment when split (the rest is the
concatenation header); the extension table's characters (``€ [ ] { } ~ ^ | \\``) take two.
UCS-2: 70 UTF-16 code units, 67 per segment when split; characters outside the BMP (most
emoji) take two.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from omnichannel.channels import Channel

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = set("^{}\\[~]|€\f")
# Estimates only: Twilio's US list prices in USD, before carrier fees; accounts differ.
SMS_SEGMENT_PRICE = Decimal("0.0083")
MMS_MESSAGE_PRICE = Decimal("0.0220")


@dataclass(frozen=True)
class SegmentInfo:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    per_segment: int  # how many units each segment of this message holds
    non_gsm: str  # the characters that forced UCS-2, in order of appearance

    def cost(self, price_per_segment: Decimal) -> Decimal:
        return price_per_segment * self.segments


def segment_info(text: str) -> SegmentInfo:
    non_gsm = "".join(
        dict.fromkeys(ch for ch in text if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION)
    )
    if not non_gsm:
        units = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    if units <= single:
        return SegmentInfo(encoding, units, 1 if units else 0, single, non_gsm)
    return SegmentInfo(encoding, units, -(-units // multi), multi, non_gsm)


def segment_estimate(body: str, channel: str, has_media: bool) -> dict[str, Any]:
    """What a counter under a body shows (the template editor's, the inbox composer's): the
    segments and their cost for SMS, one MMS price once media goes with it, else characters."""
    info = segment_info(body)
    is_sms = channel == Channel.SMS
    if is_sms and has_media:
        return {"info": info, "is_sms": True, "mms": True, "cost": MMS_MESSAGE_PRICE}
    cost = info.cost(SMS_SEGMENT_PRICE) if is_sms else None
    return {"info": info, "is_sms": is_sms, "mms": False, "cost": cost}
