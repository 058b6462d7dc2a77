"""Stored files, as every app keeps them: under a folder of their tenant, with a random part in
the path, and served with headers that stop browsers from reading them as something else."""

import secrets
from pathlib import PurePath

from django.core.exceptions import SuspiciousFileOperation
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.http import FileResponse
from django.utils.text import get_valid_filename


def safe_filename(name: str | None, *, limit: int = 100) -> str:
    """The last part of ``name`` with only letters, digits, dashes, dots and underscores."""
    try:
        cleaned = get_valid_filename(PurePath(name or "file").name)
    except SuspiciousFileOperation:  # "..", or nothing left once cleaned
        cleaned = "file"
    if len(cleaned) > limit:
        stem, dot, suffix = cleaned.rpartition(".")
        cleaned = (stem[: limit - len(suffix) - 1] + dot + suffix) if dot else cleaned[:limit]
    return cleaned or "file"


def tenant_file_path(tenant_id: int, folder: str, filename: str) -> str:
    """``tenants/<id>/<folder>/<random>/<name>``: the random part keeps two "photo.jpg" apart
    and makes paths impossible to guess."""
    return f"tenants/{tenant_id}/{folder}/{secrets.token_hex(8)}/{safe_filename(filename)}"


def declared_type(upload: UploadedFile) -> str:
    """The content type the browser sent, without its parameters (``; charset=…``)."""
    return (upload.content_type or "").split(";")[0].strip().lower()[:100]


def serve_file(
    file: File,
    *,
    content_type: str | None,
    filename: str = "",
    inline: bool = True,
    cache_control: str = "private, max-age=3600",
) -> FileResponse:
    """``file`` as a response that is never sniffed into another type (an uploaded "image"
    that is really HTML stays an image); without ``content_type``, the name's."""
    response = FileResponse(
        file.open("rb"),
        as_attachment=not inline,
        filename=filename or None,
        content_type=content_type if inline else "application/octet-stream",
    )
    response["Cache-Control"] = cache_control
    response["X-Content-Type-Options"] = "nosniff"
    return response
