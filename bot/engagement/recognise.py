"""Is a target's own post a response to the campaign? Pure: no store, no network.

A target's post counts when it
- replies to the bot's account or one of its posts (kind "reply", as the mentions poller says);
- replies to someone else's post that carries the campaign's hashtags or links: a supporter's
  pre-filled message, usually (kind "supporter_reply");
- quotes a post of the bot's or one carrying the campaign's marks (kind "quote");
- carries the campaign's hashtags or links itself (kind "statement": its own statement).

The marks are the campaign's hashtags (its own, its messages' and its amplify section's) and
its links (`links:` and amplify links). A post's marks are read from what the network
says (facets, entities) and from its text, as a post written by hand or through a client
that makes no facets carries them only there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bot.campaign.model import Campaign
from bot.platforms.base import FoundPost

_TAG = re.compile(r"(?<![\w#])#(\w*[^\W\d_]\w*)")
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"')\]]+", re.IGNORECASE)

KINDS = ("reply", "supporter_reply", "quote", "statement")


def normal_link(url: str) -> str:
    """A link compared without scheme, `www.`, case of the host or a trailing slash."""
    text = url.strip()
    if not re.match(r"^[a-z][a-z0-9+.-]*://", text, re.IGNORECASE):
        text = "https://" + text
    parts = urlsplit(text)
    host = (parts.hostname or "").lower().removeprefix("www.")
    path = parts.path.rstrip("/")
    return host + path + (f"?{parts.query}" if parts.query else "")


@dataclass(frozen=True)
class Marks:
    """What makes a post about one campaign: hashtags (lower case, no '#') and links (normal)."""

    campaign_id: str
    hashtags: frozenset[str]
    links: frozenset[str]

    @classmethod
    def of(cls, campaign: Campaign) -> Marks:
        tags = [*campaign.hashtags]
        links = [*campaign.links.values()]
        for message in campaign.messages:
            tags += message.hashtags or []
        if campaign.amplify is not None:
            tags += campaign.amplify.hashtags or []
            links += [campaign.links.get(link, link) for link in campaign.amplify.links]
        return cls(
            campaign.id,
            frozenset(tag.removeprefix("#").lower() for tag in tags),
            frozenset(normal_link(link) for link in links if "." in link),
        )

    def carried_by(self, post: FoundPost) -> bool:
        """Whether `post` carries one of these hashtags or links to one of these pages."""
        tags = {tag.lower() for tag in post.tags}
        tags |= {match.lower() for match in _TAG.findall(post.text)}
        if tags & self.hashtags:
            return True
        found = {normal_link(link) for link in (*post.links, *_URL.findall(post.text))}
        return any(_under(link, mine) for link in found for mine in self.links)


def _under(link: str, mine: str) -> bool:
    """`link` is `mine` or a page below it (a link to the letter's anchor or a sub-page)."""
    return link == mine or link.startswith((mine + "/", mine + "?", mine + "#"))


@dataclass(frozen=True)
class Recognised:
    """Why a post is a response: its kind, and the post of ours or the supporter's it answers."""

    kind: str
    answered_id: str | None = None  # the post replied to or quoted, where there is one
    answered_url: str | None = None
    ours: bool = False  # the answered post is the bot's own


@dataclass(frozen=True)
class Context:
    """What a recogniser knows beyond the post: the bot's own account on this platform (its id
    and handle), the remote ids of the bot's own posts, and posts known from the store to
    carry a campaign's marks ((campaign id, remote id) -> URL: supporters' posts found by
    amplify discovery), for networks whose answer does not carry the post replied to (X)."""

    bot_ids: frozenset[str] = frozenset()
    our_posts: frozenset[str] = frozenset()
    marked: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def marked_post(self, post_id: str | None, marks: Marks, found: FoundPost | None) -> str | None:
        """The URL of the post `post_id` if it carries `marks` (as the answer showed it, or as
        the store knows it), else None."""
        if found is not None and marks.carried_by(found):
            return found.url
        return self.marked.get((marks.campaign_id, post_id or ""))


def recognise(post: FoundPost, marks: Marks, context: Context) -> Recognised | None:
    """The response `post` is to the campaign of `marks`, or None if it is none."""
    if post.is_repost:
        return None
    referenced: Mapping[str, FoundPost] = {ref.remote_id: ref for ref in post.referenced}
    if post.is_reply:
        to_bot = post.reply_to_author_id in context.bot_ids or (
            post.reply_to_handle is not None and post.reply_to_handle in context.bot_ids
        )
        if to_bot or (post.reply_to_id is not None and post.reply_to_id in context.our_posts):
            return Recognised("reply", post.reply_to_id, ours=True)
        parent = referenced.get(post.reply_to_id or "")
        url = context.marked_post(post.reply_to_id, marks, parent)
        if url is not None:
            return Recognised("supporter_reply", post.reply_to_id, url)
    if post.quoted_id is not None:
        if post.quoted_id in context.our_posts:
            return Recognised("quote", post.quoted_id, ours=True)
        url = context.marked_post(post.quoted_id, marks, referenced.get(post.quoted_id))
        if url is not None:
            return Recognised("quote", post.quoted_id, url)
    if marks.carried_by(post):
        return Recognised("statement")
    return None


def first_recognised(
    post: FoundPost, marks: Iterable[Marks], context: Context
) -> tuple[Marks, Recognised] | None:
    """The first campaign (of a target of several) whose response `post` is."""
    for campaign_marks in marks:
        found = recognise(post, campaign_marks, context)
        if found is not None:
            return campaign_marks, found
    return None
