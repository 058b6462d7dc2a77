"""Quoted history and signatures in email replies, in English and Spanish.

``split_reply(text)`` returns ``(visible, quoted)``: what the person wrote this time, and the
rest (the quoted earlier messages and their signature). ``visible + quoted`` is always the
whole text, so nothing is lost: the inbox shows ``visible`` with a "show quoted text" toggle,
and the stored message keeps the original body.

Recognised, at the start of a line, from the first one on:
* attribution lines: "On Tue, 3 Dec 2026 at 10:00, Ana <ana@x> wrote:" and Spanish "El mar.,
  3 dic 2026 a las 10:00, Ana (<ana@x>) escribió:" (also wrapped over two lines);
* "-----Original Message-----" / "-----Mensaje original-----" and forwarded-message banners;
* Outlook header blocks: a "From:"/"De:" line followed by "Sent:"/"Enviado:"/"Date:"/"Fecha:"
  or "To:"/"Para:" lines;
* a run of ``>`` lines that continues to the end (quotes in the middle of a reply are the
  writer's own interleaved answer and stay visible);
* the ``-- `` signature separator and "Sent from my iPhone" / "Enviado desde mi iPhone"
  (and other devices) lines.
"""

import re

__all__ = ["split_reply", "strip_reply"]

_ATTRIBUTION = re.compile(
    r"^\s*(On\s.{1,300}?wrote:|El\s.{1,300}?escribi[oó]:)\s*$",
    re.IGNORECASE | re.DOTALL,
)
_BANNERS = re.compile(
    r"^\s*(-{2,}\s*(Original Message|Mensaje original|Forwarded message|Mensaje reenviado)"
    r"\s*-{2,}|_{10,})\s*$",
    re.IGNORECASE,
)
_HEADER_FROM = re.compile(r"^\s*\*?(From|De)\s*:\*?\s*\S", re.IGNORECASE)
_HEADER_NEXT = re.compile(
    r"^\s*\*?(Sent|Enviado(?: el)?|Date|Fecha|To|Para|Subject|Asunto|Cc)\s*:", re.IGNORECASE
)
_SENT_FROM = re.compile(
    r"^\s*(Sent from my \w[\w ]{0,40}|Enviado desde mi \w[\w ]{0,40}|Get Outlook for \w+|"
    r"Obtener Outlook para \w+)\s*\.?\s*$",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(r"^-- ?$")


def _is_quote(line: str) -> bool:
    return line.lstrip().startswith(">")


def _cut_index(lines: list[str]) -> int | None:
    """The index of the first line of quoted history or signature, or None."""
    count = len(lines)
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if _BANNERS.match(line) or _SIGNATURE.match(line.rstrip("\r")) or _SENT_FROM.match(line):
            return index
        if _ATTRIBUTION.match(line):
            return index
        # An attribution wrapped over two lines ("On …, Ana <ana@x>\nwrote:").
        if (
            index + 1 < count
            and lines[index + 1].strip().lower().endswith(("wrote:", "escribió:", "escribio:"))
            and _ATTRIBUTION.match(line + " " + lines[index + 1])
        ):
            return index
        if _HEADER_FROM.match(line):
            following = [ln for ln in lines[index + 1 : index + 4] if ln.strip()]
            if following and _HEADER_NEXT.match(following[0]):
                return index
        if _is_quote(line) and all(_is_quote(ln) or not ln.strip() for ln in lines[index:]):
            return index
    return None


def split_reply(text: str) -> tuple[str, str]:
    """``(visible, quoted)`` with ``visible + quoted == text``."""
    if not text:
        return "", ""
    lines = text.splitlines(keepends=True)
    cut = _cut_index(lines)
    if cut is None:
        return text, ""
    visible = "".join(lines[:cut])
    if not visible.strip():
        # Everything is "quoted" (a bare forward): show it all rather than nothing.
        return text, ""
    return visible, "".join(lines[cut:])


def strip_reply(text: str) -> str:
    """What the person wrote this time, without trailing blank lines."""
    return split_reply(text)[0].rstrip()
