"""The template pages: list, editor (errors by field, live preview and segment counter),
media upload and removal, permissions and tenant isolation."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from campaigns.media import do_add_template_media, template_media_urls
from campaigns.models import MessageTemplate, TemplateMedia
from campaigns.services import do_save_template
from contacts.models import AttributeDefinition
from contacts.services import do_create_contact
from omnichannel.models import Role

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
SID = "HX" + "0123456789abcdef" * 2
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)
BASE = "/campaigns/templates/"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def plan(tenant):
    return AttributeDefinition.objects.create(tenant=tenant, key="plan", label="Plan")


@pytest.fixture
def lucia(tenant, plan):
    return do_create_contact(
        tenant,
        fields={"first_name": "Lucía", "name": "Lucía Pérez"},
        phones=["+525512345678"],
        attributes={"plan": "gold"},
    )


@pytest.fixture
def agent(tenant, make_member):
    """May see templates (templates.view) but not change them."""
    return make_member(tenant, "agent")


def png(name: str = "foto.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PNG, content_type="image/png")


def text(response) -> str:
    return response.content.decode()


# --- list -----------------------------------------------------------------------------------


def test_the_list_costs_the_same_queries_however_many_templates(
    tenant, other_tenant, owner, login, django_assert_max_num_queries
):
    client = login(owner)
    for i in range(30):
        template = do_save_template(tenant, name=f"Promo {i:02}", channel="sms", body="Hola")
        TemplateMedia.objects.create(
            tenant=tenant,
            template=template,
            file=f"tenants/{tenant.pk}/templates/x/{i}.png",
            content_type="image/png",
            size=10,
            filename=f"{i}.png",
        )
    do_save_template(other_tenant, name="Not yours", channel="sms", body="Hola")

    # session user, preferences, membership, the nav's unread count, the tenant switcher, the
    # bell's count, the page count and the page: none grows with the templates
    with django_assert_max_num_queries(11):
        response = client.get(BASE)
    assert response.status_code == 200
    page = text(response)
    assert len(re.findall(r'<tr id="template-\d+"', page)) == 30
    assert "Promo 00" in page and "1 file" in page
    assert "Not yours" not in page


# --- create and edit ------------------------------------------------------------------------


def test_it_creates_a_template_with_emoji_and_opens_the_editor(tenant, owner, login):
    body = 'Hola {{firstName|default:"amigo"}} 👋🏽 ¡Oferta! 🎉'
    response = login(owner).post(BASE + "new/", {"name": "Verano", "channel": "sms", "body": body})

    template = MessageTemplate.objects.get(tenant=tenant, name="Verano")
    assert response.status_code == 302
    assert response["Location"] == f"{BASE}{template.pk}/"
    assert template.body == body  # emoji and skin tones kept exactly


def test_an_unknown_variable_is_refused_with_its_name_under_the_body(tenant, owner, login):
    response = login(owner).post(
        BASE + "new/", {"name": "Typo", "channel": "sms", "body": "Hola {{frstName}}"}
    )

    assert response.status_code == 422
    page = text(response)
    error = re.search(r'<p class="error" id="id_body-error">(.*?)</p>', page, re.S)
    assert error and "unknown variable “frstName”" in error.group(1)
    assert "Hola {{frstName}}" in page  # what was typed is kept
    assert not MessageTemplate.objects.exists()


def test_every_problem_is_shown_on_its_own_field(tenant, owner, login):
    do_save_template(tenant, name="Taken", channel="sms", body="Hola")
    response = login(owner).post(
        BASE + "new/",
        {"name": "Taken", "channel": "whatsapp", "content_sid": "HX12", "variable_1": "nope"},
    )
    assert response.status_code == 422
    page = text(response)
    assert 'id="id_content_sid-error"' in page and "Content SID (HX + 32 hex)" in page
    assert 'id="variables-error"' in page
    # "name" is checked when the row is written, after the fields are valid.
    assert MessageTemplate.objects.count() == 1


def test_it_saves_a_whatsapp_template_with_its_variable_mapping(tenant, owner, login, plan):
    client = login(owner)
    response = client.post(
        BASE + "new/",
        {
            "name": "Booking",
            "channel": "whatsapp",
            "content_sid": SID,
            "variable_1": "firstName",
            "variable_2": "plan",
            "variable_3": "",
        },
    )
    assert response.status_code == 302
    template = MessageTemplate.objects.get(name="Booking")
    assert (template.content_sid, template.variables) == (SID, {"1": "firstName", "2": "plan"})

    page = text(client.get(f"{BASE}{template.pk}/"))
    assert re.search(r'<option value="plan" selected>', page)
    assert "add images or video to that template in Twilio" in page  # no upload for it


def test_it_edits_a_template_and_keeps_errors_on_their_fields(tenant, owner, login):
    template = do_save_template(tenant, name="Promo", channel="sms", body="Hola")
    client = login(owner)

    response = client.post(f"{BASE}{template.pk}/", {"name": "", "channel": "sms", "body": "Hi"})
    assert response.status_code == 422
    assert 'id="id_name-error"' in text(response)
    template.refresh_from_db()
    assert (template.name, template.body) == ("Promo", "Hola")

    response = client.post(
        f"{BASE}{template.pk}/", {"name": "Promo 2", "channel": "sms", "body": "Hi 🙂"}
    )
    assert response.status_code == 302
    template.refresh_from_db()
    assert (template.name, template.body) == ("Promo 2", "Hi 🙂")


def test_the_editor_lists_contact_fields_and_custom_attributes_to_insert(
    tenant, owner, login, plan
):
    template = do_save_template(tenant, name="Promo", channel="sms", body="Hola")
    page = text(login(owner).get(f"{BASE}{template.pk}/"))
    for name in ("firstName", "lastName", "city", "plan"):
        assert f'data-insert-variable="{name}"' in page
    # Scripts come from static files with the request's nonce; nothing inline.
    assert re.search(r'<script src="/static/campaigns/templates.js" defer nonce="[^"]+">', page)
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)


def test_a_template_is_deleted_with_its_media(
    tenant, owner, login, media_root, django_capture_on_commit_callbacks
):
    template = do_save_template(tenant, name="Old", channel="sms", body="Hola")
    media = do_add_template_media(template, png())
    with django_capture_on_commit_callbacks(execute=True):
        response = login(owner).post(f"{BASE}{template.pk}/delete/")
    assert response.status_code == 302 and response["Location"] == BASE
    assert not MessageTemplate.objects.exists()
    assert not (media_root / media.file.name).exists()


# --- live pieces: preview and segment counter --------------------------------------------


def test_the_preview_renders_the_body_being_typed_for_a_chosen_contact(tenant, owner, login, lucia):
    client = login(owner)
    response = client.post(
        BASE + "preview/",
        {
            "body": 'Hola {{firstName|default:"amigo"}}, tu plan {{plan}} 🎉 '
            '{{city|default:"CDMX"}}',
            "channel": "sms",
            "preview_contact": lucia.pk,
        },
        headers=HTMX,
    )
    assert response.status_code == 200
    page = text(response)
    assert 'id="template-preview"' in page
    assert "Hola Lucía, tu plan gold 🎉 CDMX" in page
    assert "UCS-2" in page


def test_the_preview_names_unknown_variables(tenant, owner, login, lucia):
    response = login(owner).post(
        BASE + "preview/",
        {"body": "Hola {{firstName}} {{saldo}}", "channel": "sms", "preview_contact": lucia.pk},
        headers=HTMX,
    )
    page = text(response)
    assert "unknown variable “saldo”" in page
    assert "Hola Lucía" in page


def test_the_preview_shows_whatsapp_variables_for_the_contact(tenant, owner, login, lucia):
    response = login(owner).post(
        BASE + "preview/",
        {
            "channel": "whatsapp",
            "content_sid": SID,
            "variable_1": "firstName",
            "variable_2": "plan",
            "variable_3": "city",
            "preview_contact": lucia.pk,
        },
        headers=HTMX,
    )
    page = text(response)
    assert re.search(r"<dt>\{\{1\}\} · firstName</dt>\s*<dd>Lucía</dd>", page)
    assert re.search(r"<dt>\{\{2\}\} · plan</dt>\s*<dd>gold</dd>", page)
    assert "(empty for this contact)" in page


def test_the_preview_never_shows_another_tenants_contact(other_tenant, owner, login):
    theirs = do_create_contact(other_tenant, fields={"first_name": "Secreto"})
    response = login(owner).post(
        BASE + "preview/",
        {"body": "Hola {{firstName}}", "channel": "sms", "preview_contact": theirs.pk},
        headers=HTMX,
    )
    assert response.status_code == 404
    assert "Secreto" not in text(response)


def test_contact_choices_are_searched_in_the_tenant(tenant, other_tenant, owner, login, lucia):
    do_create_contact(other_tenant, fields={"first_name": "Lucía", "name": "Lucía Ajena"})
    response = login(owner).get(BASE + "contacts/", {"q": "lucia"}, headers=HTMX)
    page = text(response)
    assert f'<option value="{lucia.pk}">' in page
    assert "Ajena" not in page


@pytest.mark.parametrize(
    ("body", "encoding", "segments"),
    [
        ("Hola, ¿qué tal? Oferta de verano", "GSM-7", 1),  # é and ¿ are in GSM-7
        ("Hola 😀", "UCS-2", 1),
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("😀" * 35, "UCS-2", 1),  # 70 UTF-16 units
        ("😀" * 36, "UCS-2", 2),
    ],
)
def test_the_counter_counts_segments_of_the_body_as_typed(owner, login, body, encoding, segments):
    response = login(owner).post(BASE + "segments/", {"body": body, "channel": "sms"}, headers=HTMX)
    assert response.status_code == 200
    page = text(response)
    assert f'data-encoding="{encoding}"' in page
    assert f'data-segments="{segments}"' in page
    assert f"{segments} segment" in page


def test_the_counter_names_what_forces_ucs2_and_estimates_the_cost(owner, login):
    page = text(
        login(owner).post(
            BASE + "segments/", {"body": "Hola 😀 amigo", "channel": "sms"}, headers=HTMX
        )
    )
    assert "because of" in page and "😀" in page
    assert "$0.0083" in page


def test_the_counter_and_the_preview_say_mms_once_the_template_has_media(
    tenant, owner, login, lucia
):
    template = do_save_template(tenant, name="Promo", channel="sms", body="Hola")
    do_add_template_media(template, png())
    client = login(owner)
    data = {"body": "Hola", "channel": "sms", "template": template.pk}
    page = text(client.post(BASE + "segments/", data, headers=HTMX))
    assert "<strong>MMS</strong>" in page and "$0.0220" in page
    page = text(client.post(BASE + "preview/", {**data, "preview_contact": lucia.pk}, headers=HTMX))
    assert "one MMS with the template's media" in page


# --- media ----------------------------------------------------------------------------------


def test_media_is_uploaded_previewed_and_removed_in_place(tenant, owner, login):
    template = do_save_template(tenant, name="Promo", channel="sms", body="Hola")
    client = login(owner)

    response = client.post(f"{BASE}{template.pk}/media/", {"file": png("mapa.png")}, headers=HTMX)
    assert response.status_code == 200
    assert "template-media-changed" in response["HX-Trigger"]  # the counter turns to MMS
    media = TemplateMedia.objects.get(template=template)
    page = text(response)
    [url] = template_media_urls(template)
    assert f'<img src="{url.removeprefix("http://testserver")}"' in page
    assert "mapa.png" in page

    response = client.post(f"{BASE}{template.pk}/media/{media.pk}/remove/", headers=HTMX)
    assert response.status_code == 200
    assert not TemplateMedia.objects.exists()
    assert "mapa.png" not in text(response)


def test_a_refused_upload_says_why_in_place(tenant, owner, login):
    template = do_save_template(tenant, name="Promo", channel="sms", body="Hola")
    exe = SimpleUploadedFile("setup.exe", b"MZ", content_type="application/x-msdownload")
    response = login(owner).post(f"{BASE}{template.pk}/media/", {"file": exe}, headers=HTMX)
    assert response.status_code == 422
    assert response["HX-Retarget"] == "#template-media"
    assert "setup.exe (application/x-msdownload) cannot be sent by MMS" in text(response)
    assert not TemplateMedia.objects.exists()


def test_without_javascript_an_upload_returns_to_the_editor(tenant, owner, login):
    template = do_save_template(tenant, name="Promo", channel="sms", body="Hola")
    response = login(owner).post(f"{BASE}{template.pk}/media/", {"file": png()}, follow=True)
    assert response.redirect_chain == [(f"{BASE}{template.pk}/", 302)]
    assert TemplateMedia.objects.filter(template=template).count() == 1


# --- permissions and tenancy ----------------------------------------------------------------


def test_members_who_may_only_look_get_a_read_only_editor_and_403_on_changes(tenant, agent, login):
    template = do_save_template(tenant, name="Promo", channel="sms", body="Hola")
    media = do_add_template_media(template, png())
    client = login(agent)

    assert client.get(BASE).status_code == 200
    page = text(client.get(f"{BASE}{template.pk}/"))
    assert "needs the “templates.manage” permission" in page
    assert "Create template" not in page and ">Save<" not in page and "Upload" not in page
    assert client.post(BASE + "segments/", {"body": "Hola", "channel": "sms"}).status_code == 200

    data = {"name": "Mine", "channel": "sms", "body": "Hola"}
    assert client.get(BASE + "new/").status_code == 403
    assert client.post(BASE + "new/", data).status_code == 403
    assert client.post(f"{BASE}{template.pk}/", data).status_code == 403
    assert client.post(f"{BASE}{template.pk}/delete/").status_code == 403
    assert client.post(f"{BASE}{template.pk}/media/", {"file": png()}).status_code == 403
    assert client.post(f"{BASE}{template.pk}/media/{media.pk}/remove/").status_code == 403
    template.refresh_from_db()
    assert template.name == "Promo" and TemplateMedia.objects.count() == 1


def test_a_role_without_templates_view_sees_nothing(tenant, make_member, login):
    role = Role.objects.create(tenant=tenant, name="Billing only", permissions=[])
    client = login(make_member(tenant, role))
    template = do_save_template(tenant, name="Promo", channel="sms", body="Hola")
    assert client.get(BASE).status_code == 403
    assert client.get(f"{BASE}{template.pk}/").status_code == 403
    assert client.post(BASE + "preview/", {"body": "x"}).status_code == 403


def test_another_tenants_templates_and_media_are_404(tenant, other_tenant, owner, login):
    theirs = do_save_template(other_tenant, name="Theirs", channel="sms", body="Hola")
    their_media = do_add_template_media(theirs, png())
    ours = do_save_template(tenant, name="Ours", channel="sms", body="Hola")
    client = login(owner)
    data = {"name": "Hijack", "channel": "sms", "body": "x"}

    assert client.get(f"{BASE}{theirs.pk}/").status_code == 404
    assert client.post(f"{BASE}{theirs.pk}/", data).status_code == 404
    assert client.post(f"{BASE}{theirs.pk}/delete/").status_code == 404
    assert client.post(f"{BASE}{theirs.pk}/media/", {"file": png()}).status_code == 404
    assert client.post(f"{BASE}{theirs.pk}/media/{their_media.pk}/remove/").status_code == 404
    # Their media id under our template is no better.
    assert client.post(f"{BASE}{ours.pk}/media/{their_media.pk}/remove/").status_code == 404
    # Nor does their template's media make our counter say MMS.
    counter = client.post(
        BASE + "segments/", {"body": "x", "channel": "sms", "template": theirs.pk}
    )
    assert "MMS" not in text(counter)
    theirs.refresh_from_db()
    assert theirs.name == "Theirs" and TemplateMedia.objects.filter(template=theirs).count() == 1


def test_the_public_media_link_needs_no_login(tenant):
    template = do_save_template(tenant, name="Promo", channel="sms", body="Hola")
    do_add_template_media(template, png())
    [url] = template_media_urls(template)
    response = Client().get(url.removeprefix("http://testserver"))
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
