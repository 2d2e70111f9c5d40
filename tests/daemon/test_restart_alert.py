"""Issue 17, point 4: "the daemon restarted after a crash" is alerted. The real `kindling run` in a
process, its heartbeat in a real SQLite file, the webhook to a local HTTP server: a daemon killed
with SIGKILL and started again makes exactly one alert; a clean stop (SIGTERM) and a start make
none."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from tests.alerts.conftest import WebhookServer
from tests.daemon.test_liveness import answer, make_project, start, until


def _alerting(project: Path, url: str) -> None:
    config = project / "config.toml"
    config.write_text(
        config.read_text(encoding="utf-8") + f'[alerts.webhook]\nurl = "{url}"\n', encoding="utf-8"
    )


def _running(project: Path, daemon: subprocess.Popen[str], log: Path) -> None:
    """Until `status` names this process as the leader (so it has started, checked its
    predecessor, and beaten)."""

    def leads() -> bool:
        found = answer(project, 0)
        return bool(found) and found["daemon"]["leader"]["pid"] == daemon.pid

    until(leads, f"status says pid {daemon.pid} runs", 60, log)


def _stop(daemon: subprocess.Popen[str]) -> None:
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=60) == 0


def test_a_killed_daemon_restarted_alerts_once_and_a_clean_restart_does_not(
    tmp_path: Path,
) -> None:
    project, log = make_project(tmp_path), tmp_path / "run.log"
    with WebhookServer() as hook:
        _alerting(project, hook.url)
        daemons = []
        try:
            killed = start(project, log)
            daemons.append(killed)
            _running(project, killed, log)
            killed.send_signal(signal.SIGKILL)
            killed.wait(timeout=30)

            restarted = start(project, log)
            daemons.append(restarted)
            _running(project, restarted, log)
            until(lambda: hook.calls, "the restart alert", 30, log)
            _stop(restarted)  # a clean stop: the next start alerts nothing
            [alert] = hook.bodies()
            assert alert["event"] == "restarted_after_crash"
            assert f"The previous daemon (pid {killed.pid} on " in alert["text"]

            clean = start(project, log)
            daemons.append(clean)
            _running(project, clean, log)
            _stop(clean)
        finally:
            for daemon in daemons:
                if daemon.poll() is None:
                    daemon.kill()
                    daemon.wait()
        assert len(hook.calls) == 1, hook.bodies()
    logged = log.read_text(encoding="utf-8")
    assert logged.count("did not stop cleanly") == 1, logged[-3000:]
    assert logged.count("ALERT: ") == 1
    assert logged.count("kindling running") == 3
