"""Images a campaign posts, judged by decoding them (never by their name) against each
platform's limits, and re-encoded into the cache when that makes one fit and keeps it readable.

Every image is hostile input: its pixel count is read from the header and bounded before any
pixel is decoded, so a small file that unpacks to gigabytes is refused, not decoded.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import stat
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

# Mastodon's image_matrix_limit (its instance API): the most pixels any target accepts; more is
# refused before decoding. Pillow's own bomb guard is set to the same bound.
MAX_PIXELS = 33_177_600
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
MAX_FILE_BYTES = 50_000_000  # no campaign image is read past this
# A re-encoded image keeps at least this long side and this JPEG/WebP quality, or it is refused.
READABLE_SIDE = 1000
LOWEST_QUALITY = 60


@dataclass(frozen=True)
class PlatformLimits:
    name: str
    formats: frozenset[str]
    still_bytes: int
    gif_bytes: int
    alt_chars: int


PLATFORM_LIMITS: dict[str, PlatformLimits] = {
    "x": PlatformLimits(
        "X", frozenset({"PNG", "JPEG", "GIF", "WEBP"}), 5_000_000, 15_000_000, 1000
    ),
    "bluesky": PlatformLimits(
        "Bluesky", frozenset({"PNG", "JPEG", "GIF", "WEBP"}), 1_000_000, 1_000_000, 2000
    ),
    "mastodon": PlatformLimits(
        "Mastodon", frozenset({"PNG", "JPEG", "GIF", "WEBP"}), 16_777_216, 16_777_216, 1500
    ),
}


class Unusable(Exception):
    """An image no platform can take; the message says why, after the file's name."""


@dataclass(frozen=True)
class Inspected:
    format: str
    width: int
    height: int
    frames: int
    size: int  # bytes

    @property
    def animated(self) -> bool:
        return self.frames > 1

    def limit(self, platform: PlatformLimits) -> int:
        return platform.gif_bytes if self.format == "GIF" else platform.still_bytes


def inspect(data: bytes) -> Inspected:
    """The image's format, size and frame count, decoded for real. Raises Unusable."""
    with _opened(data) as image:
        frames = getattr(image, "n_frames", 1)
        try:
            image.load()
        except (OSError, ValueError, SyntaxError) as exc:
            raise Unusable(f"cannot be decoded ({_reason(exc)})") from None
        assert image.format is not None
        return Inspected(image.format, image.width, image.height, frames, len(data))


def _opened(data: bytes) -> Image.Image:
    """The image opened (header only) with its pixel count checked. Raises Unusable."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise Unusable(f"has more pixels than the limit of {MAX_PIXELS:,}") from None
    except UnidentifiedImageError:
        raise Unusable("is not an image Kindling can read (PNG, JPEG, GIF or WebP)") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise Unusable(f"cannot be decoded ({_reason(exc)})") from None
    if image.format not in {"PNG", "JPEG", "GIF", "WEBP"}:
        found = image.format
        image.close()
        raise Unusable(f"is a {found} image: only PNG, JPEG, GIF or WebP can be posted")
    if image.width * image.height > MAX_PIXELS:
        size = f"{image.width}×{image.height}"
        image.close()
        raise Unusable(f"is {size} pixels, over the limit of {MAX_PIXELS:,} pixels")
    return image


def _reason(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__


def needs_normalising(data: bytes) -> bool:
    """CMYK JPEGs and photos turned by an EXIF tag look wrong on some platforms: sent upright
    and in RGB instead."""
    with _opened(data) as image:
        turned = image.getexif().get(ImageOps.ExifTags.Base.Orientation, 1) not in (1, None)
        return image.mode == "CMYK" or turned


def fitted(data: bytes, limit: int) -> bytes | None:
    """The image re-encoded upright, in RGB(A), within `limit` bytes while it stays readable
    (long side >= READABLE_SIDE, quality >= LOWEST_QUALITY); None if it cannot be. Animated
    images are never re-encoded (their frames would be lost): None."""
    with _opened(data) as image:
        if getattr(image, "n_frames", 1) > 1:
            return None
        upright = ImageOps.exif_transpose(image)
        transparent = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
        picture = upright.convert("RGBA" if transparent else "RGB")
    while True:
        for encoded in _encodings(picture, transparent):
            if len(encoded) <= limit:
                return encoded
        long_side = max(picture.size)
        if long_side * 3 // 4 < READABLE_SIDE:
            return None
        picture = picture.resize(
            (picture.width * 3 // 4, picture.height * 3 // 4), Image.Resampling.LANCZOS
        )


def _encodings(picture: Image.Image, transparent: bool) -> list[bytes]:
    """PNG first (lossless), then lossy from high to the lowest readable quality: WebP keeps
    transparency, JPEG is for photos."""
    found = [_encode(picture, "PNG", optimize=True)]
    lossy = "WEBP" if transparent else "JPEG"
    for quality in range(90, LOWEST_QUALITY - 1, -10):
        found.append(_encode(picture, lossy, quality=quality))
    return found


def _encode(picture: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    picture.save(out, fmt, **options)
    return out.getvalue()


def normalised(data: bytes) -> bytes:
    """The image upright and in RGB, re-encoded losslessly for the eye (quality 95)."""
    with _opened(data) as image:
        fmt = "JPEG" if image.format == "JPEG" else "PNG"
        upright = ImageOps.exif_transpose(image).convert("RGB" if fmt == "JPEG" else "RGBA")
    return _encode(upright, fmt, quality=95) if fmt == "JPEG" else _encode(upright, fmt)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# A copy made to fit a platform is kept once, as `<original's sha256>-<platform><suffix>`: the
# suffix names its format (the adapters send the MIME type of the file name), and `kindling
# check` and the planner find and post the same file.
SUFFIXES = {"JPEG": ".jpg", "PNG": ".png", "GIF": ".gif", "WEBP": ".webp"}
LEGACY_SUFFIX = ".img"  # how `kindling check` named its copies before: removed when met


def prepared(data: bytes, platform: str, cache: Path | None) -> bytes:
    """The bytes to upload to `platform`: the original when it fits as it is, else a fitted or
    normalised copy (kept in `cache` under `copy_name` and its format's suffix: the file the
    planner posts; the original file is untouched). Raises Unusable with the reason, naming
    the platform's limit."""
    found = _judged(data, platform)
    if not _needs_copy(data, platform, found):
        return data
    if cache is None:
        return _copy(data, platform, found)
    name = copy_name(data, platform)
    # The copy as check named it before it shared the planner's file (`.img`) is not used.
    with contextlib.suppress(OSError):
        (cache / f"{name}{LEGACY_SUFFIX}").unlink(missing_ok=True)
    made = _made(cache, name)
    if made is not None:
        return made.read_bytes()
    result = _copy(data, platform, found)
    # A cache that cannot be written costs time on the next run, nothing else.
    with contextlib.suppress(OSError):
        _keep(cache, name, result)
    return result


def prepared_file(data: bytes, platform: str, cache: Path) -> Path | None:
    """The file in `cache` to upload to `platform` instead of `data` (made now unless it was
    made before, by `kindling check` or an earlier planning pass); None when `data` goes as it
    is. Raises Unusable as `prepared` does, OSError when the copy cannot be written."""
    name = copy_name(data, platform)
    found = _made(cache, name)  # found again without decoding anything
    if found is not None:
        return found
    judged = _judged(data, platform)
    if not _needs_copy(data, platform, judged):
        return None
    return _keep(cache, name, _copy(data, platform, judged))


def copy_name(data: bytes, platform: str) -> str:
    """The name (without its suffix) of `data`'s copy made for `platform`."""
    return f"{digest(data)}-{platform}"


def _made(cache: Path, name: str) -> Path | None:
    return next(
        (path for path in (cache / f"{name}{s}" for s in SUFFIXES.values()) if path.is_file()),
        None,
    )


def _keep(cache: Path, name: str, copy: bytes) -> Path:
    with _opened(copy) as image:
        suffix = SUFFIXES[str(image.format)]
    target = cache / f"{name}{suffix}"
    write_atomically(target, copy)
    return target


def _judged(data: bytes, platform: str) -> Inspected:
    """`data` decoded, in a format `platform` takes. Raises Unusable."""
    limits = PLATFORM_LIMITS[platform]
    found = inspect(data)
    if found.format not in limits.formats:
        raise Unusable(f"is a {found.format} image, which {limits.name} does not take")
    return found


def _needs_copy(data: bytes, platform: str, found: Inspected) -> bool:
    """Whether `data` must be re-encoded (or normalised) before it goes to `platform`."""
    return found.size > found.limit(PLATFORM_LIMITS[platform]) or needs_normalising(data)


def _copy(data: bytes, platform: str, found: Inspected) -> bytes:
    """`data` normalised, or re-encoded to fit `platform`'s limit. Raises Unusable."""
    limits = PLATFORM_LIMITS[platform]
    limit = found.limit(limits)
    result = normalised(data) if found.size <= limit else None
    if result is None or len(result) > limit:
        result = fitted(data, limit)
    if result is None:
        kind = "an animated GIF" if found.animated else "the image"
        raise Unusable(
            f"is {found.size:,} bytes, over {limits.name}'s limit of {limit:,}, and {kind} "
            f"cannot be re-encoded to fit while staying readable: make it smaller"
        )
    return result


def write_atomically(target: Path, data: bytes) -> None:
    """Written under a temporary name and renamed: a reader never sees half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".part")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.replace(temporary, target)


def read_limited(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of the regular file `path`; OSError for anything else or anything larger."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError(0, "not a regular file")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise OSError(0, f"larger than {limit:,} bytes")
    return data


def load_logo(data: bytes) -> Image.Image:
    """A logo for the cards: decoded, upright, with its transparency. Raises Unusable."""
    with _opened(data) as image:
        try:
            upright = ImageOps.exif_transpose(image)
            return upright.convert("RGBA")
        except (OSError, ValueError, SyntaxError) as exc:
            raise Unusable(f"cannot be decoded ({_reason(exc)})") from None
