"""Images for Mastodon statuses (issue 16): the upload half of the Mastodon adapter, mixed into
`MastodonPlatform` (mastodon.py holds the Mastodon.py client and maps every failure in
`_calling`; nothing here imports Mastodon.py).

An image is uploaded with its alt text as the description (`POST /api/v2/media`, 202), waited
for until processed (`GET /api/v1/media/:id`, 206 until done), then attached by its id.

A retry of the same post (the status create failed or its answer was lost, an image was slow to
process) reuses what it uploaded instead of uploading the image again: the media id is held per
outbox key and image, with the file's size, time and alt text, for `MEDIA_REUSE` (Mastodon
deletes media never attached after a day). A held id the instance no longer knows is uploaded
again. The ids are held in the adapter, so they last as long as the daemon process: after a
restart an image is uploaded once more, and the earlier upload, never attached, is removed by
the instance (the status itself is still made once, by its Idempotency-Key).
"""

from __future__ import annotations

import mimetypes
import time
import unicodedata
from contextlib import AbstractContextManager
from typing import Any

from bot.platforms import mastodon_support as sup
from bot.platforms.base import Image, PostRequest, Rejected, Transient

PLATFORM = "mastodon"
MEDIA_WAIT_SECONDS = 60.0  # how long an upload may take to be processed
MEDIA_REUSE_SECONDS = 6 * 3600.0  # how long an upload is reused by a retry of its post

Held = tuple[tuple[object, ...], str, float]  # (the image's fingerprint, media id, uploaded at)


class MastodonMedia:
    # Set by MastodonPlatform.__init__.
    _client: Any
    _versioned: bool  # whether Mastodon.py has read the instance's version (for /api/v2/media)
    _uploads: dict[tuple[str, int], Held]  # (outbox key, image number) -> the upload

    # Implemented by MastodonPlatform.
    def _calling(
        self, what: str, route: str, *, create: bool = False
    ) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _attachments(self, post: PostRequest) -> list[str]:
        """The media ids of the post's images, processed, each uploaded once for the post."""
        ids = []
        for number, image in enumerate(post.images):
            mark, held = _fingerprint(image), self._uploads.get((post.key, number))
            media = None
            if held and held[0] == mark and time.monotonic() - held[2] < MEDIA_REUSE_SECONDS:
                media = self._held(held[1])
            if media is None:
                media = self._upload(image)
                self._uploads[(post.key, number)] = (mark, str(media["id"]), time.monotonic())
            ids.append(self._processed(image, media))
        return ids

    def _attached(self, key: str) -> None:
        """The post's status exists: its uploads are attached, no longer to be reused."""
        for held in [k for k in self._uploads if k[0] == key]:
            del self._uploads[held]

    def _held(self, media_id: str) -> Any:
        """A held upload as the instance has it now, or None if it no longer knows it."""
        try:
            with self._calling("wait for image", "GET /api/v1/media/{id}"):
                return self._client.media(media_id)
        except sup.NotFound:
            return None

    def _upload(self, image: Image) -> Any:
        """Upload with the alt text. No status exists yet, so a failure is never ambiguous."""
        try:
            data = image.path.read_bytes()
        except OSError as exc:
            raise Rejected(PLATFORM, f"cannot read image {image.path}: {exc.strerror}") from exc
        mime = mimetypes.guess_type(image.path.name)[0] or "application/octet-stream"
        if not self._versioned:  # Mastodon.py picks /api/v2/media by the instance's version
            with self._calling("read instance version", "GET /api/v1/instance"):
                self._client.retrieve_mastodon_version(fail_hard=True)
            self._versioned = True
        with self._calling("upload image", "POST /api/v2/media"):
            return self._client.media_post(
                data,
                mime_type=mime,
                description=unicodedata.normalize("NFC", image.alt) or None,
                file_name=image.path.name,
            )

    def _processed(self, image: Image, media: Any) -> str:
        """Wait until the instance has processed the upload; its id."""
        deadline, pause = time.monotonic() + MEDIA_WAIT_SECONDS, 0.05
        while media.get("url") is None:
            if time.monotonic() > deadline:
                raise Transient(PLATFORM, f"image {image.path.name} was not processed in time")
            time.sleep(pause)  # the instance processes the upload in the background
            pause = min(pause * 2, 2.0)
            with self._calling("wait for image", "GET /api/v1/media/{id}"):
                media = self._client.media(media["id"])
        return str(media["id"])


def _fingerprint(image: Image) -> tuple[object, ...]:
    """What makes an upload the same image: the file (its size and time) and the alt text."""
    try:
        stat = image.path.stat()
    except OSError:
        return (str(image.path), image.alt)
    return (str(image.path), stat.st_size, stat.st_mtime_ns, image.alt)
