"""The fake X's endpoints for finding and amplifying others' posts: recent search, retweets and
likes (and their undoing), and the account's liked posts. Same handler shape as x_endpoints.py.

X's own rules mirrored here (where the docs say less than one would like, the choice is noted):
- Only the authenticated user may retweet or like as itself: another id in the path is a 403.
- Retweeting a post already retweeted, or liking one already liked, is not an error: X answers
  200 with `retweeted`/`liked` true and changes nothing (v1.1's docs: "Twitter will ignore
  attempts to perform duplicate retweets"; v2 answers with the state, as for the undo calls).
- Undoing a retweet or like that does not exist answers 200 with `retweeted`/`liked` false.
- A post that does not exist (or was deleted) answers 200 with only `errors`, a
  resource-not-found problem, as X's single-post endpoints do.
- Retweeting a retweet retweets its source, as X does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.fakes.x_endpoints import HANDLERS as POSTING
from tests.fakes.x_endpoints import PROBLEMS, Answer, Handler, invalid, problem
from tests.fakes.x_query import QueryError, compile_query
from tests.fakes.x_state import RECENT, XFakeState

_TWEPOCH_MS = 1288834974657  # X's snowflake epoch


def posted_at(post_id: str) -> datetime:
    """When a post id was made: X's ids are snowflakes with the milliseconds in the top bits."""
    return datetime.fromtimestamp(((int(post_id) >> 22) + _TWEPOCH_MS) / 1000, UTC)


def _as_account(s: XFakeState, path: dict[str, Any]) -> None:
    if path["id"] != s.account.user_id:
        detail = "You are not permitted to perform this action on behalf of another user."
        raise Answer(problem(403, "Forbidden", detail))


def _not_found(post_id: str, parameter: str) -> tuple[int, Any]:
    error = {
        "type": PROBLEMS + "resource-not-found",
        "title": "Not Found Error",
        "detail": f"Could not find tweet with {parameter}: [{post_id}].",
        "resource_type": "tweet",
        "resource_id": post_id,
        "parameter": parameter,
        "value": post_id,
    }
    return 200, {"errors": [error]}


def _search(s: XFakeState, path: Any, query: Any, fields: Any, body: Any) -> tuple[int, Any]:
    """Posts of the last 7 days that match the query (see x_query.py), newest first."""
    try:
        test = compile_query(query["query"], s)
    except QueryError as exc:  # a client mistake, like a request the spec refuses
        s.violations.append(f"GET /2/tweets/search/recent: query {query['query']!r}: {exc}")
        raise Answer(invalid(str(exc), {"query": [query["query"]]})) from exc
    oldest = datetime.now(UTC) - RECENT
    since = query.get("since_id")
    if since and posted_at(since) < oldest:
        message = (
            f"Invalid 'since_id':'{since}'. 'since_id' must be a tweet id created after "
            f"{oldest:%Y-%m-%dT%H:%MZ}."
        )
        s.violations.append(f"GET /2/tweets/search/recent: {message}")
        raise Answer(invalid(message, {"since_id": [since]}))
    token = query.get("next_token") or query.get("pagination_token")
    if token and not token.isdigit():  # the fake's tokens are the last id of the page before
        raise Answer(invalid(f"Invalid pagination token {token!r}", {"next_token": [token]}))
    found = [p for p in s.posts.values() if p.created_at >= oldest and test(p)]
    return 200, s.page(found, query, *fields)


def _retweet(s: XFakeState, path: Any, query: Any, fields: Any, body: Any) -> tuple[int, Any]:
    _as_account(s, path)
    source = s.posts.get(body["tweet_id"])
    if source is None:
        return _not_found(body["tweet_id"], "tweet_id")
    if source.retweet_of in s.posts:
        source = s.posts[source.retweet_of]
    made = s.retweets.get(source.id)
    if made not in s.posts:  # not yet retweeted (or the retweet was deleted)
        made = s.retweet(s.account.user_id, source).id
        s.retweets[source.id] = made
    return 200, {"data": {"retweeted": True, "rest_id": made}}


def _unretweet(s: XFakeState, path: Any, query: Any, fields: Any, body: Any) -> tuple[int, Any]:
    _as_account(s, path)
    made = s.retweets.pop(path["source_tweet_id"], None)
    if made in s.posts:
        s.deleted[made] = s.posts.pop(made)
    return 200, {"data": {"retweeted": False}}


def _like(s: XFakeState, path: Any, query: Any, fields: Any, body: Any) -> tuple[int, Any]:
    _as_account(s, path)
    if body["tweet_id"] not in s.posts:
        return _not_found(body["tweet_id"], "tweet_id")
    s.likes.setdefault(body["tweet_id"], datetime.now(UTC))
    return 200, {"data": {"liked": True}}


def _unlike(s: XFakeState, path: Any, query: Any, fields: Any, body: Any) -> tuple[int, Any]:
    _as_account(s, path)
    s.likes.pop(path["tweet_id"], None)
    return 200, {"data": {"liked": False}}


def _liked(s: XFakeState, path: Any, query: Any, fields: Any, body: Any) -> tuple[int, Any]:
    """The posts the user liked, the latest like first (the fake knows only the account's)."""
    liked = list(reversed(s.likes)) if path["id"] == s.account.user_id else []
    liked = [i for i in liked if i in s.posts]
    token = query.get("pagination_token") or "0"
    if not token.isdigit():
        raise Answer(invalid(f"Invalid pagination token {token!r}", {"pagination_token": [token]}))
    start, size = int(token), query.get("max_results", 100)
    page = [s.posts[i] for i in liked[start : start + size]]
    out: dict[str, Any] = {"meta": {"result_count": len(page)}}
    if page:
        out["data"] = [s.render(p, *fields) for p in page]
    if start + size < len(liked):
        out["meta"]["next_token"] = str(start + size)
    if users := s.expanded_users(page, fields[1]):
        out["includes"] = {"users": [s.user(u) for u in users]}
    return 200, out


AMPLIFYING: dict[str, Handler] = {
    "GET /2/tweets/search/recent": _search,
    "POST /2/users/{id}/retweets": _retweet,
    "DELETE /2/users/{id}/retweets/{source_tweet_id}": _unretweet,
    "POST /2/users/{id}/likes": _like,
    "DELETE /2/users/{id}/likes/{tweet_id}": _unlike,
    "GET /2/users/{id}/liked_tweets": _liked,
}
# Every endpoint of the fake: posting (x_endpoints.py) and amplifying.
HANDLERS = POSTING | AMPLIFYING
