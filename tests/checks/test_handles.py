"""Issue 14: a handle that cannot reach anyone on its platform is a note (a warning, the check
still passes) at the handle's place, found without going online."""

from __future__ import annotations

from tests.conftest import MINIMAL_CAMPAIGN

TARGETS = """\
targets:
  - {id: a, name: A, handles: {x: TwitterJane, bluesky: "did:plc:abc", mastodon: jane@bsky.social}}
  - {id: b, name: B, handles: {x: jane_ms, bluesky: "did:plc:abcdefghijklmnopqrstuvwx", mastodon: jane@toot.example}}
"""  # lines 12 and 13


DID = '"did:plc'


def _col(text: str, line: int, needle: str) -> int:
    return text.splitlines()[line - 1].index(needle) + 1


def _notes(report) -> list[str]:
    return [str(note) for note in report.notes]


def test_target_handles_no_account_can_have_are_noted_at_the_handle(check_campaign_text):
    text = MINIMAL_CAMPAIGN + TARGETS
    report = check_campaign_text(text)
    assert report.problems == []
    assert _notes(report) == [
        f"campaigns/c.yaml:12:{_col(text, 12, DID)}: target 'a': 'did:plc:abc' cannot be "
        "a Bluesky DID: 'did:plc:' is followed by 24 characters of a-z and 2-7",
        f"campaigns/c.yaml:12:{_col(text, 12, 'Twitter')}: target 'a': X does not allow 'Twitter' "
        "or 'Admin' in a username, so 'TwitterJane' cannot be an X account",
        f"campaigns/c.yaml:12:{_col(text, 12, 'jane@')}: target 'a': 'jane@bsky.social' is not a "
        "Mastodon address: bsky.social is not a Mastodon server (is it the handle for another "
        "platform?)",
    ]


def test_a_bad_did_in_a_targets_csv_is_noted_at_its_cell(check_campaign_text):
    csv = "id,name,bluesky\nms-a,Aelod A,did:plc:tooshort\n"
    text = MINIMAL_CAMPAIGN.replace("messages:", "target_files: [t.csv]\nmessages:")
    report = check_campaign_text(text, files={"campaigns/t.csv": csv})
    assert _notes(report) == [
        "campaigns/t.csv:2:14: target 'ms-a': 'did:plc:tooshort' cannot be a Bluesky DID: "
        "'did:plc:' is followed by 24 characters of a-z and 2-7"
    ]


def test_a_mention_typed_in_a_post_that_reaches_nobody_or_someone_else(check_campaign_text):
    text = MINIMAL_CAMPAIGN.replace(
        'text: {cy: "Darllenwch {{ link }}", en: "Read {{ link }}"}',
        'text: {cy: "Darllenwch @PrifWeinidog, a@b.example", en: "Read @jane.doe.bsky.social."}',
    )
    report = check_campaign_text(text)
    assert report.problems == []
    assert _notes(report) == [
        f"campaigns/c.yaml:10:{_col(text, 10, '@Prif')}: message 'launch' mentions "
        "'@PrifWeinidog': on Bluesky it mentions nobody (a Bluesky mention is a full handle, "
        "@name.bsky.social)",
        f"campaigns/c.yaml:10:{_col(text, 10, '@jane')}: message 'launch' mentions "
        "'@jane.doe.bsky.social': on X it mentions '@jane' (X usernames are 1-15 of A-Z, a-z, "
        "0-9 and _)",
    ]


def test_handles_and_mentions_that_can_exist_are_not_noted(check_campaign_text):
    text = MINIMAL_CAMPAIGN.replace('"Read {{ link }}"', '"Read {{ link }} via @ab_c"') + (
        "    platforms: [x]\n" + TARGETS.split("\n", 2)[0] + "\n" + TARGETS.splitlines()[2] + "\n"
    )
    report = check_campaign_text(text)
    assert report.problems == [] and _notes(report) == []
