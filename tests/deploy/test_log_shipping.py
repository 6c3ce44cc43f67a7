"""Log rotation (logrotate) and shipping (rsyslog) of the app's JSON log, checked by the real tools."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.deploy.paths import DEPLOY
from tests.support.debian import require
from tests.support.server import stop

LOGROTATE = DEPLOY / "logrotate" / "xianxia"
RSYSLOG = DEPLOY / "rsyslog" / "30-xianxia.conf"


def render_logrotate(tmp_path: Path) -> Path:
    config = tmp_path / "xianxia.logrotate"
    config.write_text(LOGROTATE.read_text().replace("/var/log/xianxia", str(tmp_path / "logs")))
    (tmp_path / "logs").mkdir()
    return config


def test_logrotate_debug_run_reads_the_config(tmp_path: Path) -> None:
    logrotate = require("logrotate", "logrotate")
    config = render_logrotate(tmp_path)
    (tmp_path / "logs" / "xianxia.log").write_text('{"event": "request"}\n')
    result = subprocess.run(
        [logrotate, "-d", "-s", str(tmp_path / "state"), str(config)], capture_output=True, text=True, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "error" not in output.lower(), output
    assert f"rotating pattern: {tmp_path}/logs/*.log" in output and "(14 rotations)" in output


def test_a_forced_rotation_truncates_in_place_under_an_appending_writer(tmp_path: Path) -> None:
    logrotate = require("logrotate", "logrotate")
    config = render_logrotate(tmp_path)
    log = tmp_path / "logs" / "xianxia.log"
    with log.open("a") as writer:  # what systemd's StandardOutput=append: gives the workers
        writer.write('{"event": "before"}\n')
        writer.flush()
        result = subprocess.run(
            [logrotate, "-f", "-s", str(tmp_path / "state"), str(config)], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr
        writer.write('{"event": "after"}\n')
        writer.flush()
    (rotated,) = [p for p in log.parent.iterdir() if p.name.startswith("xianxia.log-")]
    assert rotated.read_text() == '{"event": "before"}\n'  # delaycompress: the newest rotation stays plain
    assert log.read_text() == '{"event": "after"}\n'  # the writer's next line lands at the start, no hole


def render_rsyslog(tmp_path: Path, port: int) -> Path:
    snippet = RSYSLOG.read_text()
    snippet = snippet.replace("/var/log/xianxia/xianxia.log", str(tmp_path / "xianxia.log"))
    snippet = snippet.replace('Target="logs.example.internal"', 'Target="127.0.0.1"')
    snippet = snippet.replace('Port="514"', f'Port="{port}"')
    (tmp_path / "30-xianxia.conf").write_text(snippet)
    # What Debian's /etc/rsyslog.conf provides around the files of /etc/rsyslog.d/.
    main = tmp_path / "rsyslog.conf"
    (tmp_path / "spool").mkdir()
    main.write_text(f'global(workDirectory="{tmp_path / "spool"}")\ninclude(file="{tmp_path / "30-xianxia.conf"}")\n')
    return main


def test_rsyslogd_validates_the_config(tmp_path: Path) -> None:
    rsyslogd = require("rsyslogd", "rsyslog")
    main = render_rsyslog(tmp_path, 10514)
    result = subprocess.run([rsyslogd, "-N1", "-f", str(main)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "End of config validation run" in result.stderr


class Collector:
    """A TCP syslog receiver on a free port that keeps every line it is sent."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.server.getsockname()[1]
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._read, args=(connection,), daemon=True).start()

    def _read(self, connection: socket.socket) -> None:
        with connection, connection.makefile("r", encoding="utf-8", errors="replace") as lines:
            for line in lines:
                self.lines.append(line.rstrip("\n"))

    def close(self) -> None:
        self.server.close()


@pytest.mark.e2e
def test_rsyslog_forwards_each_json_line_to_the_collector(tmp_path: Path) -> None:
    rsyslogd = require("rsyslogd", "rsyslog")
    collector = Collector()
    log = tmp_path / "xianxia.log"
    events = [{"event": "request", "request_id": f"r{i}", "status": 200} for i in range(3)]
    log.write_text("".join(json.dumps(e) + "\n" for e in events[:2]))
    main = render_rsyslog(tmp_path, collector.port)
    with (tmp_path / "rsyslogd.out").open("wb") as out:
        process = subprocess.Popen(
            [rsyslogd, "-n", "-f", str(main), "-i", str(tmp_path / "rsyslogd.pid")],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        with log.open("a") as writer:
            writer.write(json.dumps(events[2]) + "\n")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(collector.lines) < 3:
            if process.poll() is not None:
                break
            time.sleep(0.2)
    finally:
        stop(process)
        collector.close()
    received = list(collector.lines)
    assert len(received) == 3, (received, (tmp_path / "rsyslogd.out").read_text())
    for line, event in zip(received, events, strict=True):
        assert " xianxia " in line  # the tag, as the RFC 5424 APP-NAME
        assert line.endswith(json.dumps(event)), line  # the JSON event travels unchanged
