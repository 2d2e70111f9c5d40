"""The fake X's search query language: only the subset Kindling sends, so a test notices when
the adapter sends anything else (X would answer it, perhaps differently than the adapter thinks).

Accepted: `#tag`, `url:"..."`, `from:username` (or a numeric user id), `is:retweet`,
`is:reply`, each optionally negated with `-`; terms side by side (AND), `OR` (upper case, as
X wants it), and parentheses. As on X, a query needs at least one positive standalone operator
(`is:` alone is refused) and is at most 512 characters (the Basic tier's limit; the spec's
4096 is Pro's). Anything else raises `QueryError` with a message like X's 400 errors.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.fakes.x_state import FakePost, XFakeState

QUERY_LIMIT = 512
_TOKEN = re.compile(r'\(|\)|-?url:"[^"]*"|[^\s()]+')
_HASHTAG = re.compile(r"#(\w+)")
_FROM = re.compile(r"from:(\w{1,15}|\d{1,19})", re.ASCII)
_URL = re.compile(r'url:"([^"]+)"')
Predicate = Callable[["FakePost"], bool]


class QueryError(ValueError):
    """The query is outside the accepted subset or breaks one of X's query rules."""


@dataclass(frozen=True)
class Node:
    """One parsed part of a query: `test` decides whether a post matches; `standalone`: the
    part alone would be a valid X query (is: operators are conjunction-required)."""

    test: Predicate
    standalone: bool


def url_tokens(text: str) -> list[str]:
    """X's url: is a tokenized match: the operand's tokens in a row among the link's tokens."""
    return re.findall(r"[a-z0-9]+", text.lower())


def _contains(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return n > 0 and any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))


class _Parser:
    def __init__(self, query: str, state: XFakeState) -> None:
        self.tokens = _TOKEN.findall(query)
        self.at = 0
        self.state = state

    def parse(self) -> Node:
        node = self._any()
        if self.at < len(self.tokens):
            raise QueryError(f"unexpected {self.tokens[self.at]!r} at token {self.at + 1}")
        return node

    def _peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def _any(self) -> Node:
        """Terms joined by OR."""
        parts = [self._all()]
        while self._peek() == "OR":
            self.at += 1
            parts.append(self._all())
        if len(parts) == 1:
            return parts[0]
        tests = [p.test for p in parts]
        return Node(lambda post: any(t(post) for t in tests), all(p.standalone for p in parts))

    def _all(self) -> Node:
        """Terms side by side: all must match."""
        parts: list[Node] = []
        while self._peek() not in (None, ")", "OR"):
            parts.append(self._one())
        if not parts:
            where = f"before {self._peek()!r}" if self._peek() else "at the end"
            raise QueryError(f"an operator is missing {where}")
        tests = [p.test for p in parts]
        return Node(lambda post: all(t(post) for t in tests), any(p.standalone for p in parts))

    def _one(self) -> Node:
        token = self.tokens[self.at]
        self.at += 1
        if token == "(":
            node = self._any()
            if self._peek() != ")":
                raise QueryError("unbalanced parentheses")
            self.at += 1
            return node
        if token == ")":
            raise QueryError("unbalanced parentheses")
        if token == "-":
            raise QueryError("a lone '-': negating a group is not supported")
        negated, operator = token.startswith("-"), token.removeprefix("-")
        test, standalone = self._operator(operator)
        if negated:
            return Node(lambda post: not test(post), False)
        return Node(test, standalone)

    def _operator(self, operator: str) -> tuple[Predicate, bool]:
        state = self.state
        if match := _HASHTAG.fullmatch(operator):
            tag = match.group(1).lower()
            return (lambda post: tag in {t.lower() for t in state.hashtags(post)}), True
        if match := _URL.fullmatch(operator):
            wanted = url_tokens(match.group(1))
            return (
                lambda post: any(
                    _contains(url_tokens(link), wanted) for link in state.link_texts(post)
                )
            ), True
        if match := _FROM.fullmatch(operator):
            who = match.group(1).lower()
            return (
                lambda post: who in (post.author_id, state.users.get(post.author_id, "").lower())
            ), True
        if operator == "is:retweet":
            return (lambda post: post.retweet_of is not None), False
        if operator == "is:reply":
            return (lambda post: post.in_reply_to is not None), False
        raise QueryError(f"operator or term {operator!r} is not supported by the fake")


def compile_query(query: str, state: XFakeState) -> Predicate:
    """The query as a test of posts; QueryError when X (or the fake's subset) refuses it."""
    if len(query) > QUERY_LIMIT:
        raise QueryError(f"Query length {len(query)} exceeds the limit of {QUERY_LIMIT}")
    node = _Parser(query, state).parse()
    if not node.standalone:
        raise QueryError(
            "There were errors processing your request: a query needs at least "
            "one positive standalone operator (is: operators must be combined)"
        )
    return node.test
