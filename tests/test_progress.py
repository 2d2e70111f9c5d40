"""Progress bars never change what is processed, and stay off pipes and logs."""

from __future__ import annotations

from bot.progress import track


def test_track_yields_every_item_in_order_and_prints_nothing_off_a_terminal(capsys):
    assert list(track(iter(range(5)), "counting", total=5)) == [0, 1, 2, 3, 4]
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "")


def test_track_on_a_terminal_draws_a_bar_on_stderr(monkeypatch, capsys):
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert list(track(["a", "b"], "letters", total=2)) == ["a", "b"]
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "letters" in captured.err  # the bar was drawn (then cleared: it is transient)
