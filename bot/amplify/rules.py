"""Whether a found post may be amplified: a pure function of the post, the campaign's sources
and the bot's own account. Every refusal says why, for `kindling queue` and `status`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.campaign.amplify_sources import Sources, same_link
from bot.platforms.base import FoundPost


@dataclass(frozen=True)
class Verdict:
    """`matched` says what made the post a candidate; `refusal` is None if it qualifies."""

    matched: str
    refusal: str | None

    @property
    def qualifies(self) -> bool:
        return self.refusal is None


def matches(post: FoundPost, sources: Sources) -> str:
    """What ties the post to the campaign ("#tag", "link URL"), or "" if nothing does.

    Searches match loosely (a local AppView matches any substring), so the post's own tags and
    links decide, with its text as a fallback for networks that return no entities."""
    tags = {tag.lower() for tag in post.tags}
    words = {word.rstrip(".,;:!?)’'\"").lower() for word in post.text.split()}
    for tag in sources.hashtags:
        if tag.lower() in tags or f"#{tag.lower()}" in words:
            return f"#{tag}"
    for link in sources.links:
        if any(same_link(found, link) for found in post.links):
            return f"link {link}"
        if any(same_link(word, link) for word in post.text.split() if "://" in word):
            return f"link {link}"
    return ""


def judge(post: FoundPost, sources: Sources, own_ids: frozenset[str], now: datetime) -> Verdict:
    """Whether `post` qualifies; the first rule it breaks is the refusal (blocklist first)."""
    author = {post.author_handle.lower(), post.author_id.lower()}
    matched = matches(post, sources)
    settings = sources.settings
    if author & sources.blocklist:
        return Verdict(matched, "the author is on the blocklist")
    if author & own_ids:
        return Verdict(matched, "the bot's own post")
    if post.is_repost:
        return Verdict(matched, "a repost, not the author's own words")
    if not matched:
        return Verdict(matched, "neither the campaign's hashtags nor its links")
    if post.is_reply and _addresses_target(post, sources):
        return Verdict(matched, "a reply to a politician: people address politicians, not the bot")
    if post.is_reply and not settings.replies:
        return Verdict(
            matched, "a reply (the campaign amplifies replies only with 'replies: true')"
        )
    if author & sources.targets:
        return Verdict(matched, "a politician's own post: the bot leaves targets alone")
    if post.languages and not set(post.languages) & sources.languages:
        return Verdict(matched, f"in {', '.join(post.languages)}, not a campaign language")
    if not settings.anyone and not author & sources.allowlist:
        return Verdict(matched, "the author is not on the allowlist")
    if post.created_at is not None and now - post.created_at > timedelta(
        hours=settings.max_age_hours
    ):
        return Verdict(matched, f"older than {settings.max_age_hours} hours")
    return Verdict(matched, None)


def _addresses_target(post: FoundPost, sources: Sources) -> bool:
    parent = {(post.reply_to_handle or "").lower(), (post.reply_to_author_id or "").lower()}
    return bool(parent & sources.targets)
