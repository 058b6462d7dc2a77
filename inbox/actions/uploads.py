"""Files an agent attaches to a reply: checked, stored, and offered to the provider through
signed links.

Providers fetch outbound media from a URL (Twilio's MediaUrl), so each stored file gets an
unguessable, expiring public link (:func:`public_media_url`); everything else about
attachments stays behind the tenant's login.
"""

from pathlib import PurePath

from django.conf import settings
from django.core import signing
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.urls import reverse

from inbox.models import Attachment, Message
from omnichannel.actions import ActionError
from omnichannel.files import declared_type, tenant_file_path

# Twilio accepts up to 5 MB per message for MMS and WhatsApp media (settings: the server's
# request limit for the composer is derived from the same numbers).
MAX_UPLOAD_BYTES = settings.ATTACHMENT_UPLOAD_MAX_BYTES
MAX_UPLOADS = settings.ATTACHMENT_UPLOADS_PER_MESSAGE
# What the channels deliver (images, audio, video, PDF, contact cards).
ALLOWED_TYPES = {
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "audio/mpeg",
    "audio/ogg",
    "audio/amr",
    "audio/mp4",
    "video/mp4",
    "video/3gpp",
    "application/pdf",
    "text/vcard",
    "text/x-vcard",
}
LINK_SALT = "inbox.media"
LINK_MAX_AGE = 7 * 24 * 3600


def check_uploads(files: list[UploadedFile]) -> None:
    """Refuse the whole reply, saying which file and why, before anything is stored."""
    if len(files) > MAX_UPLOADS:
        raise ActionError(f"A message carries at most {MAX_UPLOADS} attachments.")
    for upload in files:
        name = upload.name or "The file"
        if upload.size > MAX_UPLOAD_BYTES:
            raise ActionError(
                f"{name} is {upload.size / 1024 / 1024:.1f} MB; attachments can be at most "
                f"{MAX_UPLOAD_BYTES // 1024 // 1024} MB."
            )
        content_type = declared_type(upload)
        if content_type not in ALLOWED_TYPES:
            raise ActionError(
                f"{name} ({content_type or 'unknown type'}) cannot be sent: attach an image, "
                "audio, video, PDF or contact card."
            )


def store_uploads(tenant_id: int, files: list[UploadedFile]) -> list[tuple[str, UploadedFile]]:
    """Save each file under a random path; ``(path, upload)`` pairs. Call
    :func:`discard_uploads` if the reply is then refused."""
    stored = []
    for upload in files:
        path = tenant_file_path(tenant_id, "attachments", upload.name or "file")
        stored.append((default_storage.save(path, upload), upload))
    return stored


def discard_uploads(stored: list[tuple[str, UploadedFile]]) -> None:
    for path, _ in stored:
        default_storage.delete(path)


def public_media_url(path: str) -> str:
    token = signing.dumps(path, salt=LINK_SALT, compress=True)
    return settings.PUBLIC_BASE_URL + reverse("media-link", args=[token])


def path_for_link(token: str) -> str | None:
    """The stored path a link points at, or None when forged or expired."""
    try:
        return signing.loads(token, salt=LINK_SALT, max_age=LINK_MAX_AGE)
    except signing.BadSignature:
        return None


def attach_stored(message: Message, stored: list[tuple[str, UploadedFile]]) -> list[Attachment]:
    return Attachment.objects.bulk_create(
        Attachment(
            tenant_id=message.tenant_id,
            message=message,
            file=path,
            filename=PurePath(upload.name or path).name[:255],
            content_type=declared_type(upload),
            size=upload.size,
            status=Attachment.Status.STORED,
        )
        for path, upload in stored
    )
