"""Reading uploads: encodings, delimiters, headers, preview, files that are not CSV; and the
column mapping: the guess from header names and its checks."""

import codecs

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contacts.imports.mapping import MappingInvalid, auto_map, check_mapping
from contacts.imports.sniff import NotACsv, clean_headers, detect_encoding, sniff
from contacts.models import AttributeDefinition
from tests.contacts.test_import_support import FIXTURES, csv_bytes

TEXT = "Nombre,Teléfono\r\nJosé Núñez,+14155550101\r\nMaría Peña,+14155550102\r\n"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
        (TEXT.encode("latin-1"), "cp1252"),
        ("“Peña” €\r\n".encode("cp1252"), "cp1252"),
        (b"caf\xe9 \x81\r\n", "latin-1"),  # 0x81 is unassigned in Windows-1252
        (TEXT.encode("utf-16"), "utf-16"),
        (b"plain ascii\r\n", "utf-8"),
    ],
)
def test_it_detects_the_encoding(data, encoding):
    assert detect_encoding(data) == encoding


def test_a_stray_byte_in_a_utf8_file_keeps_it_utf8():
    data = TEXT.encode("utf-8") + b"Caf\xe9,+14155550103\r\n"
    assert detect_encoding(data) == "utf-8"
    sniffed = sniff(data)
    assert sniffed.preview[0] == ["José Núñez", "+14155550101"]


@given(st.binary(max_size=400))
def test_it_never_crashes_on_bad_bytes(data):
    try:
        sniffed = sniff(data)
    except NotACsv:
        return
    assert sniffed.headers and sniffed.encoding and sniffed.delimiter in (",", ";", "\t")


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_it_detects_the_delimiter(delimiter):
    data = csv_bytes(
        [["Name", "Phone", "Amount"], ["Ana, the first", "+14155550101", "1,5"], ["Bo", "", "2"]],
        delimiter=delimiter,
    )
    sniffed = sniff(data)
    assert sniffed.delimiter == delimiter
    assert sniffed.headers == ["Name", "Phone", "Amount"]
    assert sniffed.preview[0] == ["Ana, the first", "+14155550101", "1,5"]


def test_semicolons_win_over_decimal_commas():
    data = "Nombre;Saldo;Teléfono\n Ana;1,5;+14155550101\nBo;2,75;+14155550102\n".encode()
    assert sniff(data).delimiter == ";"


def test_a_one_column_file_is_read_with_commas():
    assert sniff(b"Phone\n+14155550101\n").headers == ["Phone"]


def test_it_names_blank_headers_and_numbers_repeats():
    assert clean_headers(["\ufeffPhone", " Phone ", "", "phone", "  a   b "]) == [
        "Phone",
        "Phone (2)",
        "Column 3",
        "phone (3)",
        "a b",
    ]


def test_it_previews_at_most_five_rows_padded_to_the_header():
    data = b"a,b,c\n" + b"1,2\n" * 8
    sniffed = sniff(data)
    assert len(sniffed.preview) == 5
    assert sniffed.preview[0] == ["1", "2", ""]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"\n\n  \n", "The file is empty."),
        (b"Phone,Name\n", "The file has a header row but no rows to import."),
        (b"PK\x03\x04\x14\x00\x06\x00", "This is not a CSV file: it looks like an Excel workbook"),
        (b"%PDF-1.7\n", "This is not a CSV file: it looks like a PDF document."),
        (b"a,b\n1,\x00\x00\x01\n", "This is not a CSV file: it contains binary data."),
    ],
)
def test_it_refuses_what_is_not_a_csv(data, message):
    with pytest.raises(NotACsv) as caught:
        sniff(data)
    assert str(caught.value).startswith(message)


def test_the_fixtures_are_what_their_names_say():
    for name, encoding, delimiter in [
        ("es_semicolon_latin1.csv", "cp1252", ";"),
        ("en_comma_utf8_bom.csv", "utf-8-sig", ","),
        ("tab_utf16.csv", "utf-16", "\t"),
        ("utf8_stray_byte.csv", "utf-8", ","),
    ]:
        sniffed = sniff((FIXTURES / name).read_bytes())
        assert (sniffed.encoding, sniffed.delimiter) == (encoding, delimiter), name
        assert "José" in " ".join(sniffed.preview[0]), name


# --- mapping -------------------------------------------------------------------------------------


def definitions(**kinds) -> dict:
    return {
        key: AttributeDefinition(key=key, label=key.replace("_", " ").title(), type=kind)
        for key, kind in kinds.items()
    }


def test_it_guesses_spanish_headers():
    headers = ["Nombre", "Apellidos", "Teléfono", "Celular", "Correo electrónico", "Dirección",
               "Código postal", "País", "Idioma", "Notas"]  # fmt: skip
    assert auto_map(headers, {}) == {
        "Nombre": "first_name",
        "Apellidos": "last_name",
        "Teléfono": "phone",
        "Celular": "phone_2",
        "Correo electrónico": "email",
        "Dirección": "address_line1",
        "Código postal": "postal_code",
        "País": "country",
        "Idioma": "language",
    }


def test_it_guesses_english_headers_and_attributes_by_key_or_label():
    headers = ["Full Name", "Mobile Phone", "E-mail", "ZIP", "State", "Loyalty Tier", "plan",
               "Chatwoot ID", "Mobile"]  # fmt: skip
    attrs = definitions(loyalty_tier="text", plan="text")
    assert auto_map(headers, attrs) == {
        "Full Name": "name",
        "Mobile Phone": "phone",
        "E-mail": "email",
        "ZIP": "postal_code",
        "State": "region",
        "Loyalty Tier": "attr:loyalty_tier",
        "plan": "attr:plan",
        "Chatwoot ID": "ext:chatwoot",
        "Mobile": "phone_2",
    }


def test_nombre_alone_is_the_full_name():
    assert auto_map(["Nombre", "Teléfono"], {}) == {"Nombre": "name", "Teléfono": "phone"}


def test_it_checks_a_mapping_column_by_column():
    headers = ["Name", "Tel", "Phone", "Plan", "Other"]
    with pytest.raises(MappingInvalid) as caught:
        check_mapping(
            {
                "Name": "nmae",
                "Tel": "phone",
                "Phone": "phone",
                "Plan": "attr:nope",
                "Gone": "email",
            },
            headers,
            definitions(),
        )
    assert caught.value.errors == {
        "Name": "“nmae” is not a contact field",
        "Phone": "“Phone” is already filled from the column “Tel”",
        "Plan": "“nope” is not a defined custom attribute",
        "Gone": "is not a column of the file",
    }


def test_a_mapping_needs_a_phone_or_an_email_and_every_required_attribute():
    attrs = definitions(vip="boolean")
    attrs["vip"].is_required = True
    with pytest.raises(MappingInvalid) as caught:
        check_mapping({"Name": "name", "Other": ""}, ["Name", "Other"], attrs)
    assert caught.value.errors == {
        "mapping": "map at least one column to a phone or an email: they identify each contact; "
        "the required attribute “Vip” needs a column"
    }
    assert check_mapping({"Tel": "phone", "V": "attr:vip", "N": ""}, ["Tel", "V", "N"], attrs) == {
        "Tel": "phone",
        "V": "attr:vip",
    }


@pytest.mark.parametrize("mapping", [["phone"], "phone", None])
def test_a_mapping_is_an_object(mapping):
    with pytest.raises(MappingInvalid):
        check_mapping(mapping, ["Phone"], {})


# --- encodings other than UTF-8 and Windows-1252 ------------------------------------------------

JAPANESE = [["名前", "電話"], ["山田 太郎", "+819012345678"], ["佐藤 花子", "+819012345679"]]


@pytest.mark.parametrize(
    ("rows", "encoding", "detected"),
    [
        (JAPANESE, "shift_jis", "cp932"),
        ([["name", "phone"], ["山田 太郎", "+819012345678"]], "shift_jis", "cp932"),
        ([["氏名", "メール"], ["鈴木 一郎", "ichiro@example.jp"]], "euc_jp", "euc_jp"),
        (
            [["姓名", "电话"], ["张伟", "+8613800138000"], ["王芳", "+8613800138001"]],
            "gbk",
            "gb18030",
        ),
        (
            [["姓名", "電話"], ["陳大文", "+886912345678"], ["林美玲", "+886912345679"]],
            "big5",
            "big5",
        ),
        (
            [["이름", "전화"], ["김민준", "+821012345678"], ["이서연", "+821012345679"]],
            "euc_kr",
            "cp949",
        ),
        ([["Имя", "Телефон"], ["Иван Петров", "+79161234567"]], "cp1251", "cp1251"),
        ([["Όνομα", "Τηλέφωνο"], ["Γιώργος Παπαδόπουλος", "+306912345678"]], "cp1253", "cp1253"),
        ([["Nom", "Téléphone"], ["François Lefèvre", "+33612345678"]], "cp1252", "cp1252"),
        ([["Name", "Telefon"], ["Jürgen Müller", "+4915112345678"]], "cp1252", "cp1252"),
    ],
)
def test_it_reads_the_encodings_spreadsheets_write_in_other_languages(rows, encoding, detected):
    data = csv_bytes(rows, encoding=encoding)

    sniffed = sniff(data)

    assert sniffed.encoding == detected
    assert sniffed.headers == rows[0]
    assert sniffed.preview[0] == rows[1]


def test_shift_jis_names_are_not_read_as_windows_1252():
    # "山田 太郎" in Shift-JIS decodes as Windows-1252 too, to mojibake.
    data = "Name,Phone\r\n山田 太郎,+819012345678\r\n".encode("shift_jis")
    mojibake = "\u017dR\u201cc \u2018\u00be\u02dcY"
    assert data.decode("cp1252") == f"Name,Phone\r\n{mojibake},+819012345678\r\n"

    assert sniff(data).preview == [["山田 太郎", "+819012345678"]]
    assert sniff(data).encoding_label == "Shift-JIS (Japanese)"


def test_a_file_whose_encoding_cannot_be_recognised_is_refused():
    data = b"Name,Phone\r\n" + bytes(range(0x80, 0x100)) * 3 + b",+14155550101\r\n"

    with pytest.raises(NotACsv, match="character encoding could not be recognised"):
        sniff(data)


def test_the_preview_reads_a_row_longer_than_the_sample_and_cuts_its_long_cell():
    data = csv_bytes([["Name", "Phone", "Notes"], ["Ana", "+14155550101", "x" * 1_000_000]])

    sniffed = sniff(data)

    assert sniffed.preview[0][:2] == ["Ana", "+14155550101"]
    assert sniffed.preview[0][2] == "x" * 200 + "…"


def test_a_cell_longer_than_the_csv_limit_is_named_at_upload():
    data = b'Name,Phone\r\nAna,"' + b"x" * (1024 * 1024 + 1) + b'"\r\n'

    with pytest.raises(NotACsv) as caught:
        sniff(data)

    assert str(caught.value).startswith(
        "Row 2 has a cell longer than 1,048,576 characters, more than a cell may hold"
    )
