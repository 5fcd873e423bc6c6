"""Photos people send (a case's before and after, a scene): bounded, checked and re-encoded.

What is stored is never the file that came: it is decoded (after its size is judged from the
header alone, so a decompression bomb is refused unopened), turned upright by its EXIF
orientation, scaled down to a sensible size and written again as JPEG with no metadata at all —
no EXIF position, no camera, no time."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 8 * 1024 * 1024  # a phone's photo; more is refused before it is read
MAX_PIXELS = 50_000_000  # a 48-megapixel phone photo passes; a decompression bomb does not
MAX_SIDE = 2048  # what a case needs to be seen; larger ones are scaled down
FORMATS = ("JPEG", "PNG", "WEBP")


class PhotoError(ValueError):
    """Not a photo that can be kept: the reason says why, in words for the sender."""


@dataclass(frozen=True)
class Photo:
    jpeg: bytes
    width: int
    height: int


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height from the file's header alone, nothing decoded; PhotoError when the bytes
    are no JPEG, PNG or WebP."""
    Image.MAX_IMAGE_PIXELS = None  # the size is judged here, before anything is decoded
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as header:
            width, height = header.size
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise PhotoError("not a JPEG, PNG or WebP image") from exc
    return int(width), int(height)


def check_pixels(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise PhotoError(
            f"image of {width}×{height} pixels: over {MAX_PIXELS // 1_000_000} megapixels"
        )


def intake(data: bytes, *, max_side: int = MAX_SIDE, quality: int = 85) -> Photo:
    """The photo to keep: upright, at most max_side pixels a side, JPEG with no metadata."""
    if not data:
        raise PhotoError("empty file")
    if len(data) > MAX_BYTES:
        raise PhotoError(f"file of {len(data)} bytes: over {MAX_BYTES // (1024 * 1024)} MiB")
    check_pixels(*image_size(data))
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as image:
            image.load()
            upright = ImageOps.exif_transpose(image)
            rgb = upright.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise PhotoError("the image cannot be decoded (damaged or cut short)") from exc
    rgb.thumbnail((max_side, max_side))
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=quality, optimize=True)  # no exif= given: none is written
    return Photo(out.getvalue(), rgb.width, rgb.height)


DOCUMENT_MAX = 10 * 1024 * 1024  # a scanned PDF (minutes, an acceptance report), or a photo of it


@dataclass(frozen=True)
class Document:
    data: bytes
    content_type: str  # application/pdf | image/jpeg


def document(data: bytes) -> Document:
    """A paper as kept: a PDF as it came, a photo of it re-encoded without its metadata; anything
    else is refused (ValueError with the reason)."""
    if len(data) > DOCUMENT_MAX:
        raise ValueError(f"over {DOCUMENT_MAX // (1024 * 1024)} MiB")
    if data.startswith(b"%PDF-"):
        return Document(data, "application/pdf")
    try:
        photo = intake(data)
    except PhotoError as exc:
        raise ValueError(f"not a PDF, JPEG, PNG or WebP file ({exc})") from exc
    return Document(photo.jpeg, "image/jpeg")
