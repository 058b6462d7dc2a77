"""Template media: images, audio and video sent with every message of a template.

An SMS template with media goes out as MMS, within Twilio's limits for it: at most 10 files
and 5 MB together, of the types below (Twilio resizes JPEG, PNG and GIF for each handset; audio
and video are passed on as they are). A WhatsApp template with a Content SID sends the media of
its approved template, so it takes none here.

Providers fetch media from a URL (Twilio's ``MediaUrl``). Each file gets a public link signed
with the secret key over its tenant and id (:func:`template_media_urls`): no login, no expiry
(campaigns send for days), nothing to guess, and a link only ever finds the file it was made
for. The files themselves stay in the default storage under the tenant's folder.

The template writes that must keep media consistent live here too: a new channel that cannot
carry the template's media is refused, and deleting a template deletes its files.
"""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Count, Max, ProtectedError, Sum
from django.urls import reverse

from campaigns.models import Campaign, MessageTemplate, TemplateMedia
from campaigns.services import TemplateInvalid, do_save_template
from omnichannel import audit
from omnichannel.actions import ActionError
from omnichannel.channels import Channel
from omnichannel.files import declared_type, safe_filename
from omnichannel.models import AuditEvent, Tenant

MAX_FILES = settings.ATTACHMENT_UPLOADS_PER_MESSAGE  # Twilio: MediaUrl repeats at most 10 times
# Twilio: an MMS and its media under 5 MB (the server's request limit for the media upload
# is derived from the same setting).
MAX_TOTAL_BYTES = settings.ATTACHMENT_UPLOAD_MAX_BYTES

IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif"}
AUDIO_TYPES = {"audio/mpeg", "audio/mp4", "audio/ogg", "audio/amr", "audio/aac", "audio/3gpp"}
VIDEO_TYPES = {"video/mp4", "video/mpeg", "video/quicktime", "video/3gpp"}
ALLOWED_TYPES = IMAGE_TYPES | AUDIO_TYPES | VIDEO_TYPES
# Names browsers and phones also send for the same formats.
ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "audio/mp3": "audio/mpeg",
    "audio/x-m4a": "audio/mp4",
    "audio/m4a": "audio/mp4",
    "audio/x-aac": "audio/aac",
    "video/x-m4v": "video/mp4",
}


def _iso_media(head: bytes) -> bool:
    """MP4, M4A, 3GP and QuickTime files: boxes, starting with ``ftyp`` (old QuickTime files
    may start with another box)."""
    return head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free")


def _mp3(head: bytes) -> bool:
    return head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


def _adts(head: bytes) -> bool:
    return head.startswith(b"ADIF") or (
        len(head) > 1 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0
    )


# Twilio refuses a file whose bytes are not what its Content-Type says, when it fetches it
# (days into a campaign, for every recipient): check the first bytes when it is uploaded.
SIGNATURES: dict[str, Callable[[bytes], bool]] = {
    "image/jpeg": lambda h: h.startswith(b"\xff\xd8\xff"),
    "image/png": lambda h: h.startswith(b"\x89PNG\r\n\x1a\n"),
    "image/gif": lambda h: h.startswith((b"GIF87a", b"GIF89a")),
    "audio/mpeg": _mp3,
    "audio/mp4": _iso_media,
    "audio/ogg": lambda h: h.startswith(b"OggS"),
    "audio/amr": lambda h: h.startswith(b"#!AMR"),
    "audio/aac": _adts,
    "audio/3gpp": _iso_media,
    "video/mp4": _iso_media,
    "video/mpeg": lambda h: h.startswith((b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")),
    "video/quicktime": _iso_media,
    "video/3gpp": _iso_media,
}

LINK_SALT = "campaigns.template-media"


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


def media_refusal(channel: str, content_sid: str = "") -> str | None:
    """Why a template of ``channel`` cannot carry media, or None when it can."""
    if channel == Channel.SMS:
        return None
    if channel == Channel.WHATSAPP and content_sid:
        return (
            "WhatsApp templates send the media of their approved template (the Content SID): "
            "add images or video to that template in Twilio instead."
        )
    label = Channel(channel).label if channel in Channel.values else channel
    return f"{label} templates cannot carry media; only SMS templates can (they go as MMS)."


def _sending_campaign(template: MessageTemplate) -> Campaign | None:
    active = [Campaign.Status.SCHEDULED, Campaign.Status.RUNNING, Campaign.Status.PAUSED]
    return Campaign.objects.filter(template=template, status__in=active).first()


def _check_not_sending(template: MessageTemplate, what: str = "its media") -> None:
    # Messages read the template's media and Content SID when they are sent: a change halfway
    # through would give one audience two different messages.
    campaign = _sending_campaign(template)
    if campaign is not None:
        raise ActionError(
            f"The campaign “{campaign}” is sending this template; {what} can change once "
            "the campaign is finished or cancelled (or save a copy under another name).",
            code="conflict",
        )


def _check_upload(template: MessageTemplate, upload: UploadedFile) -> str:
    """The upload's content type, or :class:`ActionError` saying what is wrong with it."""
    refusal = media_refusal(template.channel, template.content_sid)
    if refusal:
        raise ActionError(refusal)
    name = upload.name or "The file"
    content_type = declared_type(upload)
    content_type = ALIASES.get(content_type, content_type)
    if content_type not in ALLOWED_TYPES:
        raise ActionError(
            f"{name} ({content_type or 'unknown type'}) cannot be sent by MMS: attach a JPEG, "
            "PNG or GIF image, MP3, M4A, OGG, AMR or AAC audio, or MP4, MPEG, MOV or 3GP video."
        )
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    if not SIGNATURES[content_type](head):
        raise ActionError(
            f"{name} is not the {content_type} file its name says; export it again as "
            f"{content_type}."
        )
    stored = TemplateMedia.objects.filter(template=template).aggregate(
        count=Count("id"), total=Sum("size")
    )
    if stored["count"] >= MAX_FILES:
        raise ActionError(f"A template carries at most {MAX_FILES} files.")
    total = (stored["total"] or 0) + upload.size
    if total > MAX_TOTAL_BYTES:
        raise ActionError(
            f"{name} is {_megabytes(upload.size)}; with the template's other files that makes "
            f"{_megabytes(total)}, and an MMS carries at most "
            f"{MAX_TOTAL_BYTES // 1024 // 1024} MB."
        )
    return content_type


@transaction.atomic
def do_add_template_media(template: MessageTemplate, upload: UploadedFile) -> TemplateMedia:
    """Store ``upload`` with ``template`` (after its other files), or :class:`ActionError`
    saying why it cannot go."""
    # One upload at a time per template: the 5 MB total counts what is already there.
    template = MessageTemplate.objects.select_for_update().get(pk=template.pk)
    _check_not_sending(template)
    content_type = _check_upload(template, upload)
    last = TemplateMedia.objects.filter(template=template).aggregate(last=Max("position"))
    media = TemplateMedia(
        tenant_id=template.tenant_id,
        template=template,
        content_type=content_type,
        size=upload.size,
        filename=safe_filename(upload.name, limit=255),
        position=(last["last"] + 1) if last["last"] is not None else 0,
    )
    media.file.save(upload.name or "file", upload, save=False)
    path = media.file.name
    try:
        media.save()
    except Exception:
        default_storage.delete(path)
        raise
    audit.record(
        AuditEvent.Action.TEMPLATE_MEDIA_ADDED,
        tenant=template.tenant,
        target=template,
        data={"filename": media.filename, "content_type": content_type, "size": media.size},
    )
    return media


def _delete_files_on_commit(paths: list[str]) -> None:
    # After the commit: a rolled-back removal must still find its file.
    def delete() -> None:
        for path in paths:
            default_storage.delete(path)

    transaction.on_commit(delete)


@transaction.atomic
def do_remove_template_media(media: TemplateMedia) -> None:
    """Take ``media`` off its template and delete its file; its link then finds nothing."""
    _check_not_sending(media.template)
    path = media.file.name
    audit.record(
        AuditEvent.Action.TEMPLATE_MEDIA_REMOVED,
        tenant=media.template.tenant,
        target=media.template,
        data={"filename": media.filename},
    )
    media.delete()
    _delete_files_on_commit([path])


def _link_token(media: TemplateMedia) -> str:
    return signing.Signer(salt=LINK_SALT).sign(f"{media.tenant_id}.{media.pk}")


def media_link_path(media: TemplateMedia) -> str:
    """The site-relative path of ``media``'s public link (what the editor previews)."""
    return reverse("template-media-link", args=[_link_token(media)])


def template_media_urls(template: MessageTemplate) -> list[str]:
    """The public URLs of ``template``'s media, in order, for the provider's ``MediaUrl``
    (one query; the same URLs every time, so call it once per campaign, not per message)."""
    media = TemplateMedia.objects.filter(tenant_id=template.tenant_id, template=template)
    return [settings.PUBLIC_BASE_URL + media_link_path(m) for m in media.order_by("position", "id")]


def media_for_link(token: str) -> TemplateMedia | None:
    """The media a link was signed for, or None when it is forged or the media is gone."""
    try:
        tenant_id, media_id = (
            int(part) for part in signing.Signer(salt=LINK_SALT).unsign(token).split(".")
        )
    except (signing.BadSignature, ValueError):
        return None
    return TemplateMedia.objects.filter(tenant_id=tenant_id, pk=media_id).first()


# --- template writes that keep media consistent ---------------------------------------------


def check_save_template(
    tenant: Tenant, *, template: MessageTemplate | None = None, **fields: Any
) -> MessageTemplate:
    """:func:`campaigns.services.do_save_template`, also refusing (under ``media``) a channel
    or Content SID the template's media cannot go with."""
    if template is not None and template.pk:
        _check_not_sending(template, "the template")
    refusal = None
    if (
        template is not None
        and template.pk
        and TemplateMedia.objects.filter(template=template).exists()
    ):
        refusal = media_refusal(
            fields.get("channel", ""), (fields.get("content_sid") or "").strip()
        )
    if refusal:
        refusal = f"{refusal} Remove the template's media first."
    with transaction.atomic():
        try:
            saved = do_save_template(tenant, template=template, **fields)
        except TemplateInvalid as exc:
            if refusal:
                raise TemplateInvalid({**exc.errors, "media": refusal}) from None
            raise
        if refusal:
            raise TemplateInvalid({"media": refusal})  # and the save rolls back
    return saved


@transaction.atomic
def do_delete_template(template: MessageTemplate) -> None:
    """Delete ``template`` and its media files; refused while a campaign uses it."""
    paths = [m.file.name for m in TemplateMedia.objects.filter(template=template)]
    audit.record(
        AuditEvent.Action.TEMPLATE_DELETED,
        tenant=template.tenant,
        target=template,
        data={"name": template.name, "files": len(paths)},
    )
    try:
        with transaction.atomic():
            template.delete()
    except ProtectedError as exc:
        count = len(exc.protected_objects)
        raise ActionError(
            f"“{template}” is used by {count} campaign{'s' if count != 1 else ''} and "
            "cannot be deleted.",
            code="conflict",
        ) from None
    _delete_files_on_commit(paths)
