"""What an uploaded file is: its encoding, its delimiter, its header and its first rows.

Spreadsheets export CSV in whatever the machine uses: UTF-8 with or without a byte-order mark
(Excel's "CSV UTF-8" writes one), Windows-1252 / Latin-1 (Excel's plain "CSV" on Windows),
UTF-16 (Excel's "Unicode text", tab-separated), with ``,`` or ``;`` (locales with a decimal
comma) or tabs between cells. Nothing here raises on bad bytes: text is always decoded with
replacement characters, so one broken byte costs one character, never the import.
"""

import codecs
import csv
import io
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
}
SAMPLE_BYTES = 64 * 1024
SAMPLE_RECORDS = 50
PREVIEW_ROWS = 5
# Longer cells are a sign of a file that is not a table (or of a runaway quote).
FIELD_SIZE_LIMIT = 1024 * 1024
MAX_HEADER_LENGTH = 100

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
    UTF-8 (or nearly: a few broken sequences among many good ones); else Windows-1252 when it
    decodes, else Latin-1 (which decodes anything)."""
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
    try:
        data.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


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
        name = " ".join(header.replace("\ufeff", "").split())[:MAX_HEADER_LENGTH]
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
    sniffed = head(data, encoding, delimiter)
    if not sniffed.preview:
        raise NotACsv("The file has a header row but no rows to import.")
    return sniffed


def head(data: bytes, encoding: str, delimiter: str) -> Sniffed:
    """Headers and first rows of the file's beginning (``data`` may be just its first bytes)."""
    sample = _sample_text(data, encoding)
    try:
        records = [
            r for r in _records(io.StringIO(sample, newline=""), delimiter) if not is_blank(r)
        ]
    except csv.Error as exc:
        raise NotACsv(f"The file could not be read as CSV: {exc}.") from None
    if not records:
        raise NotACsv("The file is empty.")
    headers = clean_headers(records[0])
    return Sniffed(
        encoding=encoding,
        delimiter=delimiter,
        headers=headers,
        preview=[_fit(r, len(headers)) for r in records[1 : PREVIEW_ROWS + 1]],
    )


def _fit(record: list[str], width: int) -> list[str]:
    return (record + [""] * width)[:width]


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
