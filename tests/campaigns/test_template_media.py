"""Template media: checked against Twilio's MMS limits, stored under the tenant's folder, and
served to the provider by a signed link that needs no login and only finds its own file."""

from pathlib import Path

import pytest
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from campaigns.media import (
    LINK_SALT,
    check_save_template,
    do_add_template_media,
    do_delete_template,
    do_remove_template_media,
    template_media_urls,
)
from campaigns.models import Campaign, TemplateMedia
from campaigns.services import TemplateInvalid, do_save_template
from inbox.actions.uploads import public_media_url
from omnichannel.actions import ActionError

pytestmark = pytest.mark.django_db

SID = "HX" + "0123456789abcdef" * 2
# The smallest valid PNG (one transparent pixel), and the first bytes of other formats.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)
JPEG_HEAD = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00"
MP3_HEAD = b"ID3\x04\x00\x00\x00\x00\x00\x00"
MB = 1024 * 1024


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def upload(name: str, content: bytes, content_type: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def path_of(url: str) -> str:
    return url.removeprefix("http://testserver")


def test_it_stores_media_per_tenant_and_serves_it_by_a_signed_link(
    tenant, sms_template, media_root
):
    media = do_add_template_media(sms_template, upload("Playa de noche.png", PNG, "image/png"))

    assert (media.content_type, media.size, media.filename, media.position) == (
        "image/png",
        len(PNG),
        "Playa_de_noche.png",
        0,
    )
    assert media.file.name.startswith(f"tenants/{tenant.pk}/templates/")
    assert (media_root / media.file.name).read_bytes() == PNG

    # What the engine puts in MediaUrl: absolute, and fetchable without a session.
    [url] = template_media_urls(sms_template)
    assert url.startswith("http://testserver/m/t/")
    response = Client().get(path_of(url))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert 'filename="Playa_de_noche.png"' in response["Content-Disposition"]
    # Twilio checks the type with a HEAD first.
    head = Client().head(path_of(url))
    assert head.status_code == 200 and head["Content-Type"] == "image/png"


def test_urls_follow_the_order_files_were_added(sms_template):
    first = do_add_template_media(sms_template, upload("a.jpg", JPEG_HEAD, "image/jpg"))
    second = do_add_template_media(sms_template, upload("b.mp4", MP4_HEAD, "video/mp4"))
    third = do_add_template_media(sms_template, upload("c.mp3", MP3_HEAD, "audio/mpeg"))

    assert [first.position, second.position, third.position] == [0, 1, 2]
    assert first.content_type == "image/jpeg"  # "image/jpg" is the same format
    fetched = [Client().get(path_of(url)) for url in template_media_urls(sms_template)]
    assert [r["Content-Type"] for r in fetched] == ["image/jpeg", "video/mp4", "audio/mpeg"]


@pytest.mark.parametrize(
    ("name", "content", "content_type", "reason"),
    [
        ("setup.exe", b"MZ\x90\x00", "application/x-msdownload", "cannot be sent by MMS"),
        ("menu.pdf", b"%PDF-1.7", "application/pdf", "cannot be sent by MMS"),
        ("logo.svg", b"<svg/>", "image/svg+xml", "cannot be sent by MMS"),
        ("x.png", b"<html><script>alert(1)</script>", "image/png", "is not the image/png file"),
        ("clip.mp4", PNG, "video/mp4", "is not the video/mp4 file"),
    ],
)
def test_it_refuses_what_mms_cannot_carry_and_keeps_nothing(
    sms_template, media_root, name, content, content_type, reason
):
    with pytest.raises(ActionError) as exc:
        do_add_template_media(sms_template, upload(name, content, content_type))
    assert reason in exc.value.message
    assert name in exc.value.message
    assert not TemplateMedia.objects.exists()
    assert not any(p.is_file() for p in media_root.rglob("*"))


def test_it_keeps_a_templates_media_within_5_mb(sms_template):
    do_add_template_media(
        sms_template, upload("a.jpg", JPEG_HEAD + b"\x00" * (3 * MB), "image/jpeg")
    )
    with pytest.raises(ActionError) as exc:
        do_add_template_media(
            sms_template, upload("b.jpg", JPEG_HEAD + b"\x00" * (2 * MB), "image/jpeg")
        )
    assert "an MMS carries at most 5 MB" in exc.value.message
    assert TemplateMedia.objects.count() == 1


def test_it_takes_at_most_ten_files(sms_template):
    for i in range(10):
        do_add_template_media(sms_template, upload(f"{i}.png", PNG, "image/png"))
    with pytest.raises(ActionError, match="at most 10 files"):
        do_add_template_media(sms_template, upload("11.png", PNG, "image/png"))


def test_whatsapp_templates_with_a_content_sid_take_no_media(tenant):
    template = do_save_template(
        tenant, name="Booking", channel="whatsapp", content_sid=SID, variables={"1": "firstName"}
    )
    with pytest.raises(ActionError) as exc:
        do_add_template_media(template, upload("a.png", PNG, "image/png"))
    assert "media of their approved template (the Content SID)" in exc.value.message
    assert not TemplateMedia.objects.exists()


def test_forged_tampered_and_foreign_links_find_nothing(tenant, other_tenant, sms_template):
    media = do_add_template_media(sms_template, upload("a.png", PNG, "image/png"))
    [url] = template_media_urls(sms_template)
    token = path_of(url).split("/")[3]
    signer = signing.Signer(salt=LINK_SALT)

    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    # A valid signature for another tenant with this media's id (what a leaked key or a bug
    # elsewhere could produce) still finds nothing: links are bound to the tenant.
    foreign = signer.sign(f"{other_tenant.pk}.{media.pk}")
    # The inbox's links are signed for another purpose.
    inbox_link = path_of(public_media_url(media.file.name)).split("/")[2]
    for bad in (tampered, foreign, inbox_link, "not-a-token", f"{tenant.pk}.{media.pk}"):
        assert Client().get(f"/m/t/{bad}/").status_code == 404, bad
    assert Client().get(path_of(url)).status_code == 200


def test_a_tenants_link_serves_only_that_tenants_file(other_tenant, sms_template):
    ours = do_add_template_media(sms_template, upload("ours.png", PNG, "image/png"))
    theirs_template = do_save_template(other_tenant, name="Hello", channel="sms", body="Hi")
    theirs = do_add_template_media(theirs_template, upload("theirs.jpg", JPEG_HEAD, "image/jpeg"))

    [our_url] = template_media_urls(sms_template)
    [their_url] = template_media_urls(theirs_template)
    assert our_url != their_url
    assert b"".join(Client().get(path_of(our_url)).streaming_content) == PNG
    assert b"".join(Client().get(path_of(their_url)).streaming_content) == JPEG_HEAD
    assert ours.file.name.split("/")[1] != theirs.file.name.split("/")[1]


def test_removing_media_deletes_its_file_and_its_link(
    sms_template, media_root, django_capture_on_commit_callbacks
):
    media = do_add_template_media(sms_template, upload("a.png", PNG, "image/png"))
    [url] = template_media_urls(sms_template)
    with django_capture_on_commit_callbacks(execute=True):
        do_remove_template_media(media)
    assert template_media_urls(sms_template) == []
    assert Client().get(path_of(url)).status_code == 404
    assert not (media_root / media.file.name).exists()


def test_media_stays_as_it_is_while_a_campaign_sends(sms_template, make_campaign, audience):
    media = do_add_template_media(sms_template, upload("a.png", PNG, "image/png"))
    campaign = make_campaign(lists=[audience(1)])
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.RUNNING)

    with pytest.raises(ActionError) as exc:
        do_add_template_media(sms_template, upload("b.png", PNG, "image/png"))
    assert exc.value.code == "conflict" and "Winter sale" in exc.value.message
    with pytest.raises(ActionError):
        do_remove_template_media(media)
    assert TemplateMedia.objects.count() == 1


def test_a_template_with_media_keeps_a_channel_that_can_carry_it(tenant, sms_template):
    do_add_template_media(sms_template, upload("a.png", PNG, "image/png"))
    with pytest.raises(TemplateInvalid) as exc:
        check_save_template(
            tenant,
            template=sms_template,
            name="Hello",
            channel="whatsapp",
            content_sid=SID,
            variables={"1": "firstName"},
        )
    assert set(exc.value.errors) == {"media"}
    assert "Remove the template's media first" in exc.value.errors["media"]
    sms_template.refresh_from_db()
    assert (sms_template.channel, sms_template.content_sid) == ("sms", "")

    # Other problems are reported with it, each on its field.
    with pytest.raises(TemplateInvalid) as exc:
        check_save_template(tenant, template=sms_template, name="", channel="email", body="x")
    assert set(exc.value.errors) == {"name", "media"}


def test_deleting_a_template_deletes_its_files_unless_a_campaign_uses_it(
    tenant, sms_template, media_root, make_campaign, audience, django_capture_on_commit_callbacks
):
    spare = do_save_template(tenant, name="Spare", channel="sms", body="Hola")
    media = do_add_template_media(spare, upload("a.png", PNG, "image/png"))
    with django_capture_on_commit_callbacks(execute=True):
        do_delete_template(spare)
    assert not TemplateMedia.objects.exists()
    assert not (media_root / media.file.name).exists()

    make_campaign(lists=[audience(1)])  # uses sms_template
    kept = do_add_template_media(sms_template, upload("b.png", PNG, "image/png"))
    with pytest.raises(ActionError) as exc:
        do_delete_template(sms_template)
    assert exc.value.code == "conflict" and "used by 1 campaign" in exc.value.message
    assert (media_root / kept.file.name).exists()
