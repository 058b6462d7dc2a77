"""The import pages: upload, mapping, job page with its progress piece, report, tenancy."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from contacts.imports.services import run_import
from contacts.models import AttributeDefinition, Contact, ContactList, ImportJob, ListMembership
from omnichannel.models import Membership
from tests.contacts.test_import_support import (
    csv_bytes,
    import_now,
    media_root,  # noqa: F401  (fixture)
    start_import,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

FILE = csv_bytes(
    [
        ["Nombre", "Apellido", "Celular", "Correo", "Nivel", "Notas"],
        ["Ana", "García", "+14155550101", "ana@example.com", "oro", "<b>hola</b>"],
        ["Bo", "Ruiz", "12", "", "plata", ""],
    ]
)


@pytest.fixture
def browser(login, owner):
    return login(owner)


def the_file(data=FILE, name="clientes.csv"):
    return SimpleUploadedFile(name, data, content_type="text/csv")


def test_the_upload_page_lists_recent_imports_in_bounded_queries(
    browser, tenant, owner, django_assert_max_num_queries
):
    for _ in range(5):
        import_now(tenant, FILE, user=owner)
    with django_assert_max_num_queries(12):
        response = browser.get("/contacts/import/")
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('id="import-row-') == 5
    assert 'enctype="multipart/form-data"' in page


def test_upload_map_and_follow_an_import(
    browser, tenant, owner, django_capture_on_commit_callbacks
):
    AttributeDefinition.objects.create(tenant=tenant, key="nivel", label="Nivel", type="text")
    response = browser.post("/contacts/import/", {"file": the_file()})
    job = ImportJob.objects.get(tenant=tenant)
    assert response.status_code == 302
    assert response["Location"] == f"/contacts/import/{job.pk}/mapping/"
    assert (job.created_by, job.filename, job.mapping) == (owner, "clientes.csv", {})

    page = browser.get(f"/contacts/import/{job.pk}/mapping/").content.decode()
    assert "UTF-8" in page and "comma" in page
    assert "&lt;b&gt;hola&lt;/b&gt;" in page  # preview cells are escaped
    # The guesses from the Spanish headers are pre-selected.
    for index, target in enumerate(["first_name", "last_name", "phone", "email", "attr:nivel"]):
        select = page.split(f'name="map-{index}"')[1].split("</select>")[0]
        assert f'value="{target}" selected' in select, (index, target)
    assert page.split('name="map-5"')[1].split("</select>")[0].count("selected") == 1  # ignored

    form = {f"map-{i}": t for i, t in enumerate(["first_name", "last_name", "phone", "email"])}
    form.update({"map-4": "attr:nivel", "on_existing": "skip", "list": "new", "new_list": "Feria"})
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = browser.post(f"/contacts/import/{job.pk}/mapping/", form)
    assert response.status_code == 302
    assert response["Location"] == f"/contacts/import/{job.pk}/"
    assert len(queued) == 1
    job.refresh_from_db()
    assert job.mapping == {
        "Nombre": "first_name",
        "Apellido": "last_name",
        "Celular": "phone",
        "Correo": "email",
        "Nivel": "attr:nivel",
    }
    assert (job.on_existing, job.add_to_list.name) == ("skip", "Feria")

    queued_page = browser.get(f"/contacts/import/{job.pk}/").content.decode()
    assert f'id="import-{job.pk}-progress"' in queued_page
    assert "Queued" in queued_page and "data-poll-url" in queued_page
    assert 'data-page="contacts-import"' in queued_page  # what the websocket is told

    assert run_import(job.pk) == "done"
    page = browser.get(f"/contacts/import/{job.pk}/").content.decode()
    assert "data-poll-url" not in page  # over: nothing to poll
    assert 'data-count="created">1<' in page and 'data-count="errors">1<' in page
    assert "“12” is not a valid phone number." in page
    assert f"/contacts/import/{job.pk}/report.csv" in page
    contact = Contact.objects.get(tenant=tenant)
    assert (contact.name, contact.attributes) == ("Ana García", {"nivel": "oro"})
    assert ListMembership.objects.filter(contact_list=job.add_to_list, contact=contact).exists()

    report = browser.get(f"/contacts/import/{job.pk}/report.csv")
    assert report["Content-Disposition"] == f'attachment; filename="import-{job.pk}-report.csv"'
    assert report.content.decode("utf-8") == (
        "\ufeffrow,column,reason,result\r\n"
        "3,Celular,“12” is not a valid phone number.,row not imported\r\n"
    )

    # A finished job's mapping page goes to the job.
    again = browser.get(f"/contacts/import/{job.pk}/mapping/")
    assert again["Location"] == f"/contacts/import/{job.pk}/"


def test_the_progress_piece_renders_the_state_from_the_database(browser, tenant, owner):
    job = start_import(tenant, FILE, user=owner)
    ImportJob.objects.filter(pk=job.pk).update(
        status="running", total_rows=200, created_count=40, error_count=10
    )
    piece = browser.get(f"/contacts/import/{job.pk}/progress/").content.decode().strip()
    assert piece.startswith(f'<div id="import-{job.pk}-progress"')
    assert "hx-swap-oob" not in piece
    assert '<progress max="100" value="25">' in piece
    assert "50 of 200 rows" in piece
    assert f'data-poll-url="/contacts/import/{job.pk}/progress/" data-pushed' in piece


def test_others_than_the_uploader_poll_for_progress(login, make_member, tenant, owner):
    job = start_import(tenant, FILE, user=owner)
    colleague = login(make_member(tenant, "supervisor"))
    page = colleague.get(f"/contacts/import/{job.pk}/").content.decode()
    assert f'data-poll-url="/contacts/import/{job.pk}/progress/"' in page
    assert "data-pushed" not in page  # progress events go to the uploader only


def test_a_mapping_with_problems_is_shown_again_with_them(browser, tenant, owner):
    job = start_import_draft(browser)
    response = browser.post(
        f"/contacts/import/{job.pk}/mapping/",
        {"map-0": "name", "map-1": "name", "on_existing": "update"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "“Full name” is already filled from the column “Nombre”" in page
    assert "Map at least one column to a phone or an email" in page
    job.refresh_from_db()
    assert job.mapping == {} and job.status == "pending"


def start_import_draft(browser) -> ImportJob:
    response = browser.post("/contacts/import/", {"file": the_file()})
    assert response.status_code == 302
    return ImportJob.objects.latest("id")


def test_a_file_that_is_not_csv_is_refused_on_the_upload_page(browser):
    xlsx = the_file(b"PK\x03\x04" + b"\x00" * 50, "clientes.xlsx")
    response = browser.post("/contacts/import/", {"file": xlsx})
    assert response.status_code == 400
    assert "it looks like an Excel workbook" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_it_stops_a_running_import(browser, tenant, owner):
    job = start_import(tenant, FILE, user=owner)
    response = browser.post(f"/contacts/import/{job.pk}/cancel/")
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert run_import(job.pk) == "nothing to do"


def test_another_tenant_gets_404_everywhere(login, tenant, other_tenant, owner):
    job = start_import(tenant, FILE, user=owner)
    draft = start_import_draft(login(owner))
    outsider = login(Membership.objects.get(tenant=other_tenant, role__builtin="owner").user)
    for url in (
        f"/contacts/import/{job.pk}/",
        f"/contacts/import/{job.pk}/progress/",
        f"/contacts/import/{job.pk}/report.csv",
        f"/contacts/import/{draft.pk}/mapping/",
    ):
        assert outsider.get(url).status_code == 404, url
    assert outsider.post(f"/contacts/import/{job.pk}/cancel/").status_code == 404
    assert (
        outsider.post(f"/contacts/import/{draft.pk}/mapping/", {"map-2": "phone"}).status_code
        == 404
    )
    assert "clientes.csv" not in outsider.get("/contacts/import/").content.decode()
    job.refresh_from_db()
    assert job.status == "pending"


def test_a_list_of_another_tenant_cannot_be_chosen(browser, tenant, other_tenant):
    theirs = ContactList.objects.create(tenant=other_tenant, name="Theirs")
    job = start_import_draft(browser)
    response = browser.post(
        f"/contacts/import/{job.pk}/mapping/",
        {"map-2": "phone", "on_existing": "update", "list": str(theirs.pk)},
    )
    assert response.status_code == 404
    job.refresh_from_db()
    assert job.mapping == {}


def test_importing_needs_the_permission(login, make_member, tenant):
    agent = login(make_member(tenant, "agent"))
    assert agent.get("/contacts/import/").status_code == 403
    assert agent.post("/contacts/import/", {"file": the_file()}).status_code == 403


def test_a_shift_jis_file_is_previewed_and_imported_in_japanese(browser, tenant):
    data = csv_bytes(
        [["名前", "電話"], ["山田 太郎", "+819012345678"], ["佐藤 花子", "+819012345679"]],
        encoding="shift_jis",
    )
    response = browser.post("/contacts/import/", {"file": the_file(data)})
    assert response.status_code == 302
    job = ImportJob.objects.get(tenant=tenant)

    page = browser.get(f"/contacts/import/{job.pk}/mapping/").content.decode()
    assert "Read as Shift-JIS (Japanese)" in page
    assert "山田 太郎" in page

    form = {"map-0": "name", "map-1": "phone", "on_existing": "skip", "list": ""}
    assert browser.post(f"/contacts/import/{job.pk}/mapping/", form).status_code == 302
    assert run_import(job.pk) == "done"
    names = set(Contact.objects.for_tenant(tenant).values_list("name", flat=True))
    assert names == {"山田 太郎", "佐藤 花子"}


def test_a_file_in_an_unrecognised_encoding_is_refused_at_upload(browser):
    data = b"Name,Phone\r\n" + bytes(range(0x80, 0x100)) * 3 + b",+14155550101\r\n"

    response = browser.post("/contacts/import/", {"file": the_file(data)})

    assert response.status_code == 400
    page = response.content.decode()
    assert "character encoding could not be recognised" in page
    assert "CSV UTF-8" in page
    assert not ImportJob.objects.exists()


def test_a_1_mb_cell_is_named_in_the_report_not_taken_for_an_empty_file(browser, tenant):
    data = csv_bytes(
        [
            ["Nombre", "Celular", "Notas"],
            ["Ana", "+14155550101", "x" * 1_000_000],
            ["Bo", "+14155550102", "ok"],
        ]
    )
    response = browser.post("/contacts/import/", {"file": the_file(data)})
    assert response.status_code == 302, response.content.decode()[:500]
    job = ImportJob.objects.get(tenant=tenant)

    page = browser.get(f"/contacts/import/{job.pk}/mapping/").content.decode()
    assert "x" * 200 + "…" in page and "x" * 201 not in page

    form = {"map-0": "name", "map-1": "phone", "on_existing": "skip", "list": ""}
    assert browser.post(f"/contacts/import/{job.pk}/mapping/", form).status_code == 302
    assert run_import(job.pk) == "done"
    job.refresh_from_db()
    assert (job.created_count, job.error_count) == (1, 1)
    [error] = job.errors
    assert (error["row"], error["column"]) == (2, "Notas")
    assert error["reason"].startswith("is 1,000,000 characters long; a cell holds at most 32,767")
    page = browser.get(f"/contacts/import/{job.pk}/").content.decode()
    assert "1,000,000 characters long" in page


def test_the_mapping_step_says_how_a_consent_column_is_read(browser, tenant):
    from contacts.imports.mapping import opted_in_target
    from tests.inbox.api_factories import make_inbox

    make_inbox(tenant, name="Front desk", address="+15005550006")
    target = opted_in_target("sms", "+15005550006")
    data = csv_bytes([["Name", "SMS consent"], ["Ana", "sí"], ["Bo", "maybe"]])
    assert browser.post("/contacts/import/", {"file": the_file(data)}).status_code == 302
    job = ImportJob.objects.get(tenant=tenant)
    url = f"/contacts/import/{job.pk}/mapping/"

    # Every consent choice carries its reading, for the page to show once it is picked.
    page = browser.get(url).content.decode()
    assert f'value="{target}" data-consent-reading="yes → opted in, no → opted out"' in page

    # No phone column: the page comes back with the consent column's reading under it.
    response = browser.post(url, {"map-0": "name", "map-1": target, "on_existing": "update"})
    assert response.status_code == 400
    row = response.content.decode().split('id="import-column-1"')[1].split("</tr>")[0]
    assert "yes → opted in, no → opted out" in row
    assert "“maybe” is not understood: that row will be reported, not imported" in row
