"""A target answering the campaign raises TargetAnswered (for the alerts), once per stored
response; responses from people who are not targets raise nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import events
from bot.alerts.messages import ALERTED, alert_for
from bot.engagement.responses import TargetRef, poll_responses
from bot.platforms.base import Mention, MentionPage
from bot.store.engine import Store
from tests.fakes.scripted_platform import ScriptedPlatform

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


class Mentioned(ScriptedPlatform):
    def __init__(self, mentions: list[Mention]) -> None:
        super().__init__("bluesky")
        self.page = mentions

    def mentions(self, cursor: str | None = None) -> MentionPage:
        return MentionPage(self.page, cursor="next")


def mention(remote_id: str, handle: str) -> Mention:
    url = f"https://bsky.app/profile/{handle}/post/{remote_id}"
    return Mention(remote_id, "reply", f"did:plc:{handle}", handle, "Diolch", NOW, url)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    made = Store(f"sqlite:///{tmp_path / 'kindling.sqlite3'}")
    made.create_tables()
    yield made
    made.dispose()


def test_a_targets_answer_is_an_event_once(store: Store) -> None:
    heard: list[events.Event] = []
    subscription = events.subscribe(heard.append)
    try:
        targets = {"jane.senedd.test": (TargetRef("senedd", "jane-jones"),)}
        platform = Mentioned([mention("1", "Jane.Senedd.test"), mention("2", "someone.test")])
        assert poll_responses(store, platform, targets, NOW) == 2
        assert poll_responses(store, platform, targets, NOW) == 0  # already stored: no event
    finally:
        subscription.cancel()
    url = "https://bsky.app/profile/Jane.Senedd.test/post/1"
    assert [e for e in heard if isinstance(e, events.TargetAnswered)] == [
        events.TargetAnswered("senedd", "jane-jones", "bluesky", url)
    ]
    # The same registry carries the stored response itself (bot/engagement/telling.py).
    [told] = [e for e in heard if isinstance(e, events.NewResponse)]
    assert (told.target_id, told.kind, told.url, told.response_id) == (
        "jane-jones",
        "reply",
        url,
        1,
    )


def test_a_subscriber_hears_only_the_kinds_it_asked_for() -> None:
    responses: list[events.Event] = []
    answers: list[events.Event] = []
    subscriptions = [
        events.subscribe(responses.append, events.NewResponse),
        events.subscribe(answers.append, events.TargetAnswered, events.PostsFailing),
    ]
    response = events.NewResponse(7, "x", "c", None, "statement", "https://x.test/1", "a", NOW)
    answered = events.TargetAnswered("c", "t", "x", "https://x.test/2")
    try:
        for event in (response, answered, events.PostsFailing("x", 3, "boom")):
            events.publish(event)
    finally:
        for subscription in subscriptions:
            subscription.cancel()
    assert responses == [response]
    assert answers == [answered, events.PostsFailing("x", 3, "boom")]
    # The alerts subscribe to the kinds they have a message for, so never see NewResponse.
    assert events.TargetAnswered in ALERTED and events.NewResponse not in ALERTED
    assert all(alert_for(event) for event in (answered, events.PostsFailing("x", 3, "boom")))
