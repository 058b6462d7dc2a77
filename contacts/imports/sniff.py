"""What an uploaded file is: its encoding, its delimiter, its header and its first rows.

Spreadsheets export CSV in whatever the machine uses: UTF-8 with or without a byte-order mark
(Excel's "CSV UTF-8" writes one), Windows-1252 / Latin-1 (Excel's plain "CSV" on Windows),
UTF-16 (Excel's "Unicode text", tab-separated), Shift-JIS, GBK, Big5, EUC-KR, Windows-1251 or
-1253 (Excel's plain "CSV" on a Japanese, Chinese, Korean, Russian or Greek Windows), with ``,``
or ``;`` (locales with a decimal comma) or tabs between cells. A file that is not UTF-8 is read
with the encoding under which its text reads as words of one script (see
:func:`detect_encoding`); when none does, the upload is refused rather than stored as mojibake.
Once the encoding is known, nothing here raises on bad bytes: text is decoded with
replacement characters, so one broken byte costs one character, never the import.
"""

import codecs
import csv
import io
import itertools
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

DELIMITERS = (",", ";", "\t")
DELIMITER_LABELS = {",": "comma", ";": "semicolon", "\t": "tab"}
ENCODING_LABELS = {
    "utf-8-sig": "UTF-8 (with byte-order mark)",
    "utf-8": "UTF-8",
    "utf-16": "UTF-16",
    "cp1252": "Windows-1252 (Latin-1)",
    "latin-1": "Latin-1 (ISO-8859-1)",
    "cp932": "Shift-JIS (Japanese)",
    "euc_jp": "EUC-JP (Japanese)",
    "gb18030": "GB18030 / GBK (Simplified Chinese)",
    "big5": "Big5 (Traditional Chinese)",
    "cp949": "EUC-KR (Korean)",
    "cp1251": "Windows-1251 (Cyrillic)",
    "cp1253": "Windows-1253 (Greek)",
}
# Tried, in this order, for a file that is not UTF-8 (after Windows-1252, or Latin-1 when
# Windows-1252 cannot decode it). cp932 and cp949 are Windows' supersets of Shift-JIS and
# EUC-KR, gb18030 of GBK/GB2312: what Excel writes on those systems.
OTHER_ENCODINGS = ("cp932", "euc_jp", "gb18030", "big5", "cp949", "cp1251", "cp1253")
CJK_ENCODINGS = ("cp932", "euc_jp", "gb18030", "big5", "cp949")
# Below this share of plausible characters (see _plausibility), no encoding reads the file.
MIN_PLAUSIBILITY = 0.5
# Another encoding must read that much better than Windows-1252 to be chosen over it.
WESTERN_MARGIN = 0.1
SAMPLE_BYTES = 64 * 1024
SAMPLE_RECORDS = 50
PREVIEW_ROWS = 5
# Longer cells are a sign of a file that is not a table (or of a runaway quote).
FIELD_SIZE_LIMIT = 1024 * 1024
MAX_HEADER_LENGTH = 100
# Preview cells are cut here for the mapping page (a row error names a cell that is too long).
PREVIEW_CELL_CHARS = 200

# Magic numbers of files people upload by mistake instead of exporting CSV.
NOT_CSV_SIGNATURES = (
    (b"PK\x03\x04", "an Excel workbook or another zip file; save it as CSV first"),
    (b"\xd0\xcf\x11\xe0", "an old Excel or Word file; save it as CSV first"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "an image"),
    (b"\xff\xd8\xff", "an image"),
    (b"GIF8", "an image"),
)

csv.field_size_limit(FIELD_SIZE_LIMIT)


class NotACsv(ValueError):
    """The upload cannot be read as a table; the message says why, for the person uploading."""


@dataclass(frozen=True)
class Sniffed:
    encoding: str
    delimiter: str
    headers: list[str]
    preview: list[list[str]]

    @property
    def encoding_label(self) -> str:
        return ENCODING_LABELS.get(self.encoding, self.encoding)

    @property
    def delimiter_label(self) -> str:
        return DELIMITER_LABELS.get(self.delimiter, self.delimiter)


def detect_encoding(data: bytes) -> str:
    """The codec to read ``data`` with: a byte-order mark decides; else UTF-8 when the bytes are
    UTF-8 (or nearly: a few broken sequences among many good ones); else the encoding under
    which the beginning reads most plausibly (:func:`_plausibility`), Windows-1252 (or Latin-1)
    unless another reads clearly better. :class:`NotACsv` when none reads as text."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", errors="replace")
    broken = text.count("\ufffd")
    non_ascii = len(text) - len(text.encode("ascii", errors="ignore")) - broken
    # Latin-1 text read as UTF-8 breaks at nearly every accented letter; a UTF-8 file with a
    # stray byte has many good multi-byte letters for each broken one.
    if non_ascii >= 4 * broken:
        return "utf-8"
    sample = data[:SAMPLE_BYTES]
    western = "cp1252" if _decodes(sample, "cp1252") is not None else "latin-1"
    scores = {western: _plausibility(_decodes(sample, western) or "") + WESTERN_MARGIN}
    for encoding in OTHER_ENCODINGS:
        decoded = _decodes(sample, encoding)
        if decoded is not None:
            scores[encoding] = _plausibility(decoded)
    top = max(scores.values())
    best = [encoding for encoding, score in scores.items() if score == top]
    if top - (WESTERN_MARGIN if best[0] == western else 0) < MIN_PLAUSIBILITY:
        raise NotACsv(
            "The file's character encoding could not be recognised, so its accents and "
            "non-Latin letters would come out garbled. Save it as “CSV UTF-8” and upload it again."
        )
    if len(best) > 1 and all(encoding in CJK_ENCODINGS for encoding in best):
        return _likeliest_cjk(sample, best)
    return best[0]


def _likeliest_cjk(sample: bytes, candidates: list[str]) -> str:
    """Which of several CJK encodings that all read ``sample`` as words is right. Bytes of one
    read as another land mostly on rare characters (or on kana in Chinese, hangul in Japanese):
    the one whose characters are most often among its language's common ones wins; a tie is
    left to charset-normalizer's frequency tables, then to the order of ``CJK_ENCODINGS``."""
    shares = {enc: _common_share(_decodes(sample, enc) or "", enc) for enc in candidates}
    top = max(shares.values())
    tied = [encoding for encoding in candidates if shares[encoding] == top]
    if len(tied) == 1:
        return tied[0]
    from charset_normalizer import from_bytes

    match = from_bytes(sample, cp_isolation=tied).best()
    if match is not None:
        name = codecs.lookup(match.encoding).name
        for encoding in tied:
            if codecs.lookup(encoding).name == name:
                return encoding
    return tied[0]


# A language's common characters are the first level of its national standard: their lead
# byte, in that standard's EUC form, falls in this range (kana count as common in Japanese).
_COMMON_LEVEL = {
    "cp932": ("euc_jp", 0xB0, 0xCF),
    "euc_jp": ("euc_jp", 0xB0, 0xCF),
    "gb18030": ("gb2312", 0xB0, 0xD7),
    "big5": ("big5", 0xA4, 0xC6),
    "cp949": ("euc_kr", 0xB0, 0xC8),
}


def _common_share(text: str, encoding: str) -> float:
    standard, low, high = _COMMON_LEVEL[encoding]
    letters = [c for c in text if c.isalpha() and not c.isascii() and _script(c) == "CJK"]
    common = 0
    for char in letters:
        name = unicodedata.name(char, "")
        if encoding in ("cp932", "euc_jp") and ("KATAKANA" in name or "HIRAGANA" in name):
            common += 1
        else:
            try:
                code = char.encode(standard)
            except UnicodeEncodeError:
                continue
            common += len(code) == 2 and low <= code[0] <= high
    return common / len(letters) if letters else 0.0


def _decodes(sample: bytes, encoding: str) -> str | None:
    """``sample`` decoded strictly (a character cut at its end is dropped), or None."""
    try:
        return codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
    except UnicodeDecodeError:
        return None


_LETTER_RUN = re.compile(r"[^\W\d_]+")
# Punctuation and symbols people type in Latin text, besides letters.
_LATIN_PUNCTUATION = frozenset(
    "\u201c\u201d\u2018\u2019\u201e\u201a\u2013\u2014\u2026€£¥¢«»¿¡°ºª·•\u00b4§©®™±\u00d7÷\u00a0"
)
# Japanese mixes kanji and kana in a word, Korean may mix hangul and hanja: one group.
_CJK_NAMES = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "IDEOGRAPHIC", "HALFWIDTH", "FULLWIDTH")


def _script(char: str) -> str:
    if char.isascii():
        return "LATIN"
    name = unicodedata.name(char, "")
    if name.startswith(_CJK_NAMES):
        return "CJK"
    return name.split(" ", 1)[0]


def _coherent(word: str) -> bool:
    """A word as people write it: letters of one script, no lower-case letter followed by a
    capital (``иВАН``), and in Latin script no three accented letters in a row (``Ãéþ``: Greek
    or Cyrillic read as Windows-1252)."""
    if len({_script(char) for char in word}) > 1:
        return False
    if any(a.islower() and b.isupper() for a, b in itertools.pairwise(word)):
        return False
    if _script(word[0]) == "LATIN":
        run = 0
        for char in word:
            run = run + 1 if not char.isascii() else 0
            if run >= 3:
                return False
    return True


def _plausibility(text: str) -> float:
    """The share of the text's non-ASCII characters (and control characters) that read as
    text: letters in coherent words (:func:`_coherent`), usual punctuation and symbols, CJK
    punctuation. Mojibake is full of symbols, control characters and words mixing scripts."""
    judged = good = 0
    for match in _LETTER_RUN.finditer(text):
        word = match.group()
        if word.isascii():
            continue
        count = sum(1 for char in word if not char.isascii())
        judged += count
        if _coherent(word):
            good += count
    for char in text:
        if char.isascii():
            if char < " " and char not in "\t\r\n":
                judged += 1  # a control character
            continue
        if char.isalpha():
            continue  # judged with its word
        judged += 1
        category = unicodedata.category(char)
        usual = char in _LATIN_PUNCTUATION or category in ("Zs", "Nd", "No", "Sc")
        if usual or (category.startswith("P") and _script(char) == "CJK"):
            good += 1
    return good / judged if judged else 1.0


def check_not_binary(data: bytes, encoding: str) -> None:
    for signature, what in NOT_CSV_SIGNATURES:
        if data.startswith(signature):
            raise NotACsv(f"This is not a CSV file: it looks like {what}.")
    if encoding != "utf-16" and b"\x00" in data[:SAMPLE_BYTES]:
        raise NotACsv("This is not a CSV file: it contains binary data.")


def _sample_text(data: bytes, encoding: str) -> str:
    text = data[: SAMPLE_BYTES * (2 if encoding == "utf-16" else 1)].decode(
        encoding, errors="replace"
    )
    if len(data) > SAMPLE_BYTES and "\n" in text:
        text = text[: text.rindex("\n") + 1]  # whole lines only
    return text.lstrip("\ufeff")


def detect_delimiter(sample: str) -> str:
    """The candidate that splits the sample's records into the same number of cells as its
    header, in the most cells; a comma when nothing splits (a one-column file)."""
    best, best_score = ",", 0.0
    for delimiter in DELIMITERS:
        try:
            widths = [
                len(record)
                for record in _records(
                    io.StringIO(sample, newline=""), delimiter, limit=SAMPLE_RECORDS
                )
                if any(cell.strip() for cell in record)
            ]
        except csv.Error:
            continue
        if not widths or widths[0] < 2:
            continue
        consistent = sum(1 for width in widths if width == widths[0]) / len(widths)
        score = consistent * widths[0]
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _records(stream: IO[str], delimiter: str, *, limit: int | None = None) -> Iterator[list[str]]:
    reader = csv.reader(stream, delimiter=delimiter)
    for count, record in enumerate(reader):
        if limit is not None and count >= limit:
            return
        yield record


def clean_headers(raw: list[str]) -> list[str]:
    """Headers a mapping can name: trimmed, blanks named by position, repeats numbered."""
    headers: list[str] = []
    seen: dict[str, int] = {}
    for index, header in enumerate(raw):
        name = " ".join(header.replace("\ufeff", "").replace("\x00", "").split())
        name = name[:MAX_HEADER_LENGTH]
        name = name or f"Column {index + 1}"
        key = name.casefold()
        if key in seen:
            seen[key] += 1
            name = f"{name} ({seen[key]})"
        else:
            seen[key] = 1
        headers.append(name)
    return headers


def is_blank(record: list[str]) -> bool:
    return not any(cell.strip() for cell in record)


def sniff(data: bytes) -> Sniffed:
    """Encoding, delimiter, headers and the first rows of an upload, or :class:`NotACsv`."""
    if not data.strip():
        raise NotACsv("The file is empty.")
    encoding = detect_encoding(data)
    check_not_binary(data, encoding)
    delimiter = detect_delimiter(_sample_text(data, encoding))
    sniffed = head(io.BytesIO(data), encoding, delimiter)
    if not sniffed.preview:
        raise NotACsv("The file has a header row but no rows to import.")
    return sniffed


def head(binary: IO[bytes], encoding: str, delimiter: str) -> Sniffed:
    """Headers and first rows of the file, read from its start until the preview is full
    however long its rows are (a cell may hold up to ``FIELD_SIZE_LIMIT`` characters)."""
    records: list[list[str]] = []
    number = 0
    try:
        for record in read_records(binary, encoding, delimiter):
            number += 1
            if not is_blank(record):
                records.append(record)
                if len(records) > PREVIEW_ROWS:
                    break
    except csv.Error as exc:
        raise NotACsv(csv_error_message(number + 1, exc)) from None
    if not records:
        raise NotACsv("The file is empty.")
    headers = clean_headers(records[0])
    return Sniffed(
        encoding=encoding,
        delimiter=delimiter,
        headers=headers,
        preview=[_preview(r, len(headers)) for r in records[1 : PREVIEW_ROWS + 1]],
    )


def csv_error_message(row: int, exc: csv.Error) -> str:
    """What a person can do about a ``csv.Error`` at spreadsheet row ``row``."""
    if "field limit" in str(exc):
        return (
            f"Row {row} has a cell longer than {FIELD_SIZE_LIMIT:,} characters, more than a "
            "cell may hold: usually a quote mark that opens a cell and never closes it, so the "
            "rest of the file reads as one cell. Fix that row and upload the file again."
        )
    return f"The file could not be read as CSV at row {row}: {exc}."


def _preview(record: list[str], width: int) -> list[str]:
    cells = (record + [""] * width)[:width]
    return [c if len(c) <= PREVIEW_CELL_CHARS else c[:PREVIEW_CELL_CHARS] + "…" for c in cells]


def open_text(binary: IO[bytes], encoding: str) -> IO[str]:
    """The stored file as text for ``csv``: never raises on bad bytes; a BOM is dropped."""
    return io.TextIOWrapper(binary, encoding=encoding, errors="replace", newline="")


def read_records(binary: IO[bytes], encoding: str, delimiter: str) -> Iterator[list[str]]:
    """Every record of the stored file, the header first. ``csv.Error`` propagates."""
    text = open_text(binary, encoding)
    first = True
    for record in csv.reader(text, delimiter=delimiter):
        if first and record:
            record = [record[0].lstrip("\ufeff"), *record[1:]]
            first = False
        yield record
