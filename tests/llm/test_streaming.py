"""Streamed answers end to end: the app's SSE routes over the pooled client against the fake upstream, which streams."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from quart import Quart
from quart.testing.connections import TestHTTPConnection as StreamedConnection

from tests.support.fakellm import FakeConfig, RunningFake, running_fake
from xianxia.config import Settings
from xianxia.web import action_stream
from xianxia.web.app import create_app

#: Bounds every wait on the stream, so a buffered stream fails the test instead of hanging it.
WAIT = 10.0


@pytest.fixture
async def fake() -> AsyncIterator[RunningFake]:
    config = FakeConfig(port=0, trickle_seconds=30, trickle_interval=0.05, stream_interval=0, shutdown_timeout=0.5)
    async with running_fake(config) as running:
        yield running


def settings_for(fake: RunningFake, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'stream.db'}",
        "deepseek_api_key": "fake-key",
        "deepseek_base_url": fake.base_url,
        "llm_first_token_timeout": 5.0,
        "llm_idle_timeout": 5.0,
        "llm_timeout": 20.0,
        "log_level": "WARNING",
        "log_json": True,
        "llm_open": True,  # these tests are about the stream; who may call it: tests/web/test_llm_access.py
    }
    values.update(overrides)
    return Settings(**values)


async def app_for(settings: Settings) -> AsyncIterator[Quart]:
    app = create_app(settings)
    async with app.test_app() as running:
        yield running.app  # type: ignore[attr-defined]


@pytest.fixture
async def app(fake: RunningFake, tmp_path: Path) -> AsyncIterator[Quart]:
    async for running in app_for(settings_for(fake, tmp_path)):
        yield running


class EventReader:
    """Reads SSE events off a streamed test-client connection, each wait bounded."""

    def __init__(self, connection: StreamedConnection) -> None:
        self.connection = connection
        self.buffer = ""

    async def next(self) -> tuple[str, dict[str, Any]]:
        while "\n\n" not in self.buffer:
            data = await asyncio.wait_for(self.connection.receive(), WAIT)
            if not data:
                raise AssertionError(f"stream ended; left: {self.buffer!r}")
            self.buffer += data.decode()
        raw, self.buffer = self.buffer.split("\n\n", 1)
        fields = dict(line.split(": ", 1) for line in raw.splitlines() if not line.startswith(":"))
        return fields["event"], json.loads(fields["data"])

    async def until(self, name: str) -> list[tuple[str, dict[str, Any]]]:
        events = []
        while True:
            found = await self.next()
            events.append(found)
            if found[0] in (name, "error"):
                return events


async def open_stream(
    app: Quart, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> StreamedConnection:
    connection = app.test_client().request(
        path,
        method="POST",
        headers={"Content-Type": "application/json", "Accept": "text/event-stream", **(headers or {})},
    )
    await connection.__aenter__()
    await connection.send(json.dumps(body).encode())
    await connection.send_complete()
    return connection


async def test_the_first_token_reaches_the_client_before_the_upstream_sends_its_last(
    app: Quart, fake: RunningFake
) -> None:
    fake.state.stream_hold = hold = asyncio.Event()
    connection = await open_stream(app, "/api/llm/chat/stream", {"prompt": "道友从何处来？"})
    reader = EventReader(connection)
    name, first = await reader.next()
    assert name == "token" and first["text"]
    assert not hold.is_set()  # the last chunk is still held back upstream: the first words came before it
    hold.set()
    events = await reader.until("done")
    assert events[-1][0] == "done"
    assert events[-1][1]["text"] == first["text"] + "".join(data["text"] for name, data in events if name == "token")
    assert connection.status_code == 200
    assert connection.headers["Content-Type"].startswith("text/event-stream")


async def test_keep_alive_comments_do_not_count_as_a_first_token(fake: RunningFake, tmp_path: Path) -> None:
    await fake_plan(fake, {"next": ["trickle"]})
    settings = settings_for(fake, tmp_path, llm_first_token_timeout=0.5, llm_max_retries=1)
    async for app in app_for(settings):
        response = await app.test_client().post("/api/llm/chat/stream", json={"prompt": "你好"})
        assert response.status_code == 504
        assert (await response.get_json())["error"]["code"] == "llm_timeout"


async def test_a_stream_that_goes_quiet_ends_with_an_error_event(fake: RunningFake, tmp_path: Path) -> None:
    await fake_plan(fake, {"next": ["stall"]})
    async for app in app_for(settings_for(fake, tmp_path, llm_idle_timeout=0.5)):
        reader = EventReader(await open_stream(app, "/api/llm/chat/stream", {"prompt": "你好"}))
        events = await reader.until("done")
        assert events[0][0] == "token"
        assert events[-1] == ("error", {"error": {"code": "llm_timeout", "message": events[-1][1]["error"]["message"]}})
        assert "next token" in events[-1][1]["error"]["message"]
    assert fake.state.stats.requests_total == 1  # keep-alives kept coming; nothing was retried after text


async def test_failures_before_the_first_token_are_retried(app: Quart, fake: RunningFake) -> None:
    await fake_plan(fake, {"next": ["server_error", "unavailable"]})
    reader = EventReader(await open_stream(app, "/api/llm/chat/stream", {"prompt": "你好"}))
    events = await reader.until("done")
    assert events[-1][0] == "done" and events[-1][1]["text"]
    assert fake.state.stats.requests_total == 3


async def test_a_connection_cut_after_the_first_token_is_not_retried(app: Quart, fake: RunningFake) -> None:
    await fake_plan(fake, {"next": ["cut"]})
    reader = EventReader(await open_stream(app, "/api/llm/chat/stream", {"prompt": "你好"}))
    events = await reader.until("done")
    assert events[0][0] == "token"
    assert events[-1][0] == "error"
    assert fake.state.stats.requests_total == 1


async def test_an_upstream_error_status_answers_as_json(app: Quart, fake: RunningFake) -> None:
    await fake_plan(fake, {"next": ["unauthorized"]})
    response = await app.test_client().post("/api/llm/chat/stream", json={"prompt": "你好"})
    assert response.status_code in (502, 503)
    assert "error" in await response.get_json()


async def fake_plan(fake: RunningFake, plan: dict[str, Any]) -> None:
    from tests.support.fakellm.faults import FaultPlan

    fake.state.picker.replace(FaultPlan.model_validate(plan))


# -- /act streams an NPC's line ---------------------------------------------------------------------------


async def create(app: Quart) -> tuple[str, dict[str, str]]:
    response = await app.test_client().post("/api/players", json={"name": "韩立"})
    body = await response.get_json()
    return body["player"]["id"], {"Authorization": f"Bearer {body['token']}"}


async def test_talk_streams_its_line_and_commits_exactly_what_was_streamed(app: Quart, fake: RunningFake) -> None:
    player_id, auth = await create(app)
    fake.state.stream_hold = hold = asyncio.Event()
    before = fake.state.stats.requests_total
    connection = await open_stream(
        app,
        f"/api/players/{player_id}/act",
        {"intent": "talk", "slots": {"target": "shouwei"}},
        {**auth, "Idempotency-Key": "talk-1"},
    )
    reader = EventReader(connection)
    name, first = await reader.next()
    assert name == "narration" and first["text"]
    assert not hold.is_set()  # the NPC's first words are out before the upstream's last chunk
    hold.set()
    events = await reader.until("answer")
    name, answer = events[-1]
    assert name == "answer"
    streamed = first["text"] + "".join(data["text"] for event, data in events if event == "narration")
    assert answer["narration"] == streamed
    assert answer["intent"]["intent"] == "talk" and answer["player"]["id"] == player_id
    assert set(answer) >= {"intent", "parser", "narration", "events", "player", "suggestions"}
    assert fake.state.stats.requests_total - before == 1  # one LLM call

    log = await (await app.test_client().get(f"/api/players/{player_id}/log", headers=auth)).get_json()
    assert log["entries"][-1]["outcome"]["narration"] == streamed
    replay = await app.test_client().post(
        f"/api/players/{player_id}/act",
        json={"intent": "talk", "slots": {"target": "shouwei"}},
        headers={**auth, "Idempotency-Key": "talk-1"},
    )
    assert (await replay.get_json())["narration"] == streamed


async def test_a_streamed_action_without_words_sends_only_the_answer(app: Quart) -> None:
    player_id, auth = await create(app)
    reader = EventReader(await open_stream(app, f"/api/players/{player_id}/act", {"intent": "look"}, auth))
    events = await reader.until("answer")
    assert [name for name, _ in events] == ["answer"]
    plain = await app.test_client().post(f"/api/players/{player_id}/act", json={"intent": "look"}, headers=auth)
    assert set(events[0][1]) == set(await plain.get_json())


async def test_a_streamed_action_that_fails_at_once_answers_json(app: Quart) -> None:
    player_id, _auth = await create(app)
    response = await app.test_client().post(
        f"/api/players/{player_id}/act",
        json={"intent": "look"},
        headers={"Accept": "text/event-stream", "Authorization": "Bearer wrong"},
    )
    assert response.status_code == 403
    assert (await response.get_json())["error"]["code"]


async def test_a_streamed_action_logs_what_it_did(
    fake: RunningFake, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request's line leaves with the headers; the action's fields come in a line of their own at the end."""
    async for app in app_for(settings_for(fake, tmp_path, log_level="INFO")):
        # structlog caches a module's logger at the level of its first use (another test's WARNING app).
        monkeypatch.setattr(action_stream, "log", structlog.get_logger(action_stream.__name__))
        player_id, auth = await create(app)
        connection = await open_stream(
            app, f"/api/players/{player_id}/act", {"intent": "talk", "slots": {"target": "shouwei"}}, auth
        )
        await EventReader(connection).until("answer")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    streamed = [line for line in lines if line.get("event") == "action_streamed"]
    assert len(streamed) == 1
    assert streamed[0]["player_id"] == player_id and streamed[0]["intent"] == "talk"
    assert streamed[0]["request_id"]
