"""The Mastodon stand-in's endpoints for amplifying (issue 16 point 6), and `HANDLERS`: every
endpoint the stand-in answers (mastodon_endpoints.py has the posting and reading ones).

- Hashtag timelines: the public statuses (boosts left out) whose text has the tag, any case,
  paged like every Mastodon list (max_id, since_id, min_id; a Link header).
- Account lookup by `acct`: `user` or `user@this.instance` is a local account, `user@other` a
  remote one; an account the instance does not know is a 404, as Mastodon (no WebFinger here).
- Boost and favourite are idempotent, as on Mastodon: boosting again answers the same boost,
  favouriting again changes nothing; undoing what is not there answers the status all the same.
  A boost is a status of the bot's (`reblog_of`); favourites are `state.favourites`.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.fakes import mastodon_entities as render
from tests.fakes.mastodon_endpoints import HANDLERS as POSTING
from tests.fakes.mastodon_endpoints import Call, Refusal, Result, page_of
from tests.fakes.mastodon_state import FakeStatus, MastodonFakeState


def tag_timeline(state: MastodonFakeState, call: Call) -> Result:
    tag = call.path["hashtag"].lower()
    kept = [
        s
        for s in state.statuses.values()
        if s.visibility == "public"
        and s.reblog_of is None
        and tag in {t.lower() for t in render.hashtags(s.text)}
    ]
    page, links = page_of(kept, call.query, 20, 40, call.base_url)
    return 200, [render.status(state, s) for s in page], links


def account_lookup(state: MastodonFakeState, call: Call) -> Result:
    username, _, domain = str(call.query.get("acct") or "").removeprefix("@").partition("@")
    domain = "" if domain.lower() == state.domain else domain.lower()
    known = next(
        (
            a
            for a in state.accounts.values()
            if a.username.lower() == username.lower() and a.domain == domain
        ),
        None,
    )
    if known is None:
        raise Refusal(404, "Record not found")
    return 200, render.account(state, known), {}


def _subject(state: MastodonFakeState, call: Call) -> FakeStatus:
    item = state.statuses.get(call.path["id"])
    if item is None or item.visibility not in ("public", "unlisted"):
        raise Refusal(404, "Record not found")
    return item


def _count(item: FakeStatus, name: str, change: int) -> None:
    item.counts[name] = max(item.counts.get(name, 0) + change, 0)


def reblog(state: MastodonFakeState, call: Call) -> Result:
    item = _subject(state, call)
    made = state.reblog_by_me(item.id)
    if made is None:
        visibility = str(call.body.get("visibility") or "public")
        made = state.store("", state.me.id, visibility=visibility)
        made.reblog_of = item.id
        _count(item, "reblogs", 1)
    return 200, render.status(state, made), {}


def unreblog(state: MastodonFakeState, call: Call) -> Result:
    item = _subject(state, call)
    made = state.reblog_by_me(item.id)
    if made is not None:
        del state.statuses[made.id]
        _count(item, "reblogs", -1)
    return 200, render.status(state, item), {}


def favourite(state: MastodonFakeState, call: Call) -> Result:
    item = _subject(state, call)
    if item.id not in state.favourites:
        state.favourites.add(item.id)
        _count(item, "favourites", 1)
    return 200, render.status(state, item), {}


def unfavourite(state: MastodonFakeState, call: Call) -> Result:
    item = _subject(state, call)
    if item.id in state.favourites:
        state.favourites.discard(item.id)
        _count(item, "favourites", -1)
    return 200, render.status(state, item), {}


HANDLERS: dict[str, Callable[[MastodonFakeState, Call], Result]] = {
    **POSTING,
    "GET /api/v1/timelines/tag/{hashtag}": tag_timeline,
    "GET /api/v1/accounts/lookup": account_lookup,
    "POST /api/v1/statuses/{id}/reblog": reblog,
    "POST /api/v1/statuses/{id}/unreblog": unreblog,
    "POST /api/v1/statuses/{id}/favourite": favourite,
    "POST /api/v1/statuses/{id}/unfavourite": unfavourite,
}
