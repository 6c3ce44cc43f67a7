"""NPC dialogue: the NPC's LLM reply for a carried-out talk, None (the canned line) whenever that cannot be had."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from xianxia.config import LLMMode, Settings
from xianxia.engine import Outcome, ParsedIntent, PlayerState, new_player
from xianxia.llm.client import DeepSeekClient, player_hash
from xianxia.llm.dialogue import GREETING, MAX_REPLY_CHARS, NPCDialogue
from xianxia.llm.errors import LLMBusy, LLMCircuitOpen, LLMError, LLMServerError
from xianxia.world import World, load_world


@pytest.fixture(scope="module")
def world() -> World:
    return load_world()


class FakeChat:
    """Replies with a numbered line (or raises / hangs) and records every request."""

    def __init__(self, reply: str | None = None, error: Exception | None = None, hang: bool = False) -> None:
        self.reply = reply
        self.error = error
        self.hang = hang
        self.requests: list[list[dict[str, str]]] = []
        self.users: list[str | None] = []
        self.cancelled = False

    async def complete_async(
        self,
        messages: list[dict[str, str]],
        *,
        json_mode: bool = False,
        user: str | None = None,
        max_tokens: int | None = None,
    ) -> str:
        self.requests.append(messages)
        self.users.append(user)
        if self.hang:
            try:
                await asyncio.Event().wait()  # never set: only the budget ends this call
            except asyncio.CancelledError:
                self.cancelled = True
                raise
        if self.error is not None:
            raise self.error
        return self.reply if self.reply is not None else f"老夫第{len(self.requests)}次答你。"


def player(world: World, player_id: str = "p1", location: str = "zongmen") -> PlayerState:
    return new_player(world, player_id, "韩立", seed=7).model_copy(update={"location": location})


def talk(state: PlayerState, npc: str = "zhangmen", *, allowed: bool = True, intent: str = "talk") -> Outcome:
    parsed = ParsedIntent(intent=intent, slots={"target": npc}, allowed=allowed, reason="" if allowed else "不行")
    return Outcome(intent=parsed, narration="修行之道，贵在持之以恒。", state=state)


async def converse(npc_dialogue: NPCDialogue, state: PlayerState, outcome: Outcome, said: str | None) -> str | None:
    """One talk as the game runs it: the reply, then (the action committed) remembering it."""
    line = await npc_dialogue(state, outcome, said)
    npc_dialogue.remember(state, outcome, said, line)
    return line


def dialogue(
    world: World, client: FakeChat, mode: LLMMode = "async", *, budget: float = 5.0, **bounds: int
) -> NPCDialogue:
    return NPCDialogue(client, world, mode=lambda: mode, budget=budget, **bounds)


async def test_mode_off_keeps_the_canned_line(world: World) -> None:
    client = FakeChat()
    state = player(world)
    assert await dialogue(world, client, "off")(state, talk(state), "请教掌门") is None
    assert client.requests == []


@pytest.mark.parametrize("mode", ["async", "sync"])
async def test_talk_is_answered_in_the_npc_voice(world: World, mode: LLMMode) -> None:
    client = FakeChat("修行无捷径，\x00唯勤而已。\u202e ")
    state = player(world)
    line = await dialogue(world, client, mode)(state, talk(state), "请教掌门修行之道")
    assert line == "修行无捷径，唯勤而已。"
    system, user = client.requests[0][0], client.requests[0][-1]
    npc = world.npcs["zhangmen"]
    assert system["role"] == "system" and system["content"].startswith(npc.persona)
    assert "青云宗" in system["content"] and "炼气" in system["content"]
    assert user == {"role": "user", "content": "请教掌门修行之道"}
    assert client.users[0] is not None and "p1" not in client.users[0]  # a hash, not the player id


async def test_talk_without_words_greets(world: World) -> None:
    client = FakeChat()
    state = player(world)
    assert await dialogue(world, client)(state, talk(state), None)
    assert client.requests[0][-1]["content"] == GREETING


@pytest.mark.parametrize(
    ("outcome_args", "why"),
    [
        ({"allowed": False}, "refused talk"),
        ({"intent": "look"}, "not a talk"),
        ({"npc": "yelang"}, "not an npc"),
    ],
)
async def test_only_a_carried_out_talk_to_an_npc_is_voiced(
    world: World, outcome_args: dict[str, object], why: str
) -> None:
    client = FakeChat()
    state = player(world)
    assert await dialogue(world, client)(state, talk(state, **outcome_args), "你好") is None  # type: ignore[arg-type]
    assert client.requests == []


@pytest.mark.parametrize(
    "error",
    [
        LLMServerError("500", status_code=500),
        LLMCircuitOpen("open"),
        LLMBusy("busy"),
        LLMError("x"),
        RuntimeError("a bug"),
    ],
)
async def test_llm_failure_keeps_the_canned_line(world: World, error: Exception) -> None:
    state = player(world)
    npc_dialogue = dialogue(world, FakeChat(error=error))
    assert await npc_dialogue(state, talk(state), "你好") is None
    assert len(npc_dialogue) == 0


async def test_llm_past_the_budget_keeps_the_canned_line_quickly(world: World) -> None:
    state = player(world)
    chat = FakeChat(hang=True)
    async with asyncio.timeout(10):  # a bound on failure, far past the budget
        assert await dialogue(world, chat, budget=0.05)(state, talk(state), "你好") is None
    assert chat.cancelled  # the budget, not the LLM, ended the call


@pytest.mark.parametrize("reply", ["", "   ", "\x00\x01\x1b", "\u200b\u200b"])
async def test_empty_reply_keeps_the_canned_line(world: World, reply: str) -> None:
    state = player(world)
    assert await dialogue(world, FakeChat(reply))(state, talk(state), "你好") is None


async def test_long_reply_is_capped(world: World) -> None:
    state = player(world)
    line = await dialogue(world, FakeChat("道" * 5000))(state, talk(state), "你好")
    assert line == "道" * MAX_REPLY_CHARS


async def test_earlier_exchanges_are_sent_as_history_up_to_the_turn_limit(world: World) -> None:
    client = FakeChat()
    state = player(world)
    npc_dialogue = dialogue(world, client, turns=2)
    for said in ("一问", "二问", "三问", "四问"):
        await converse(npc_dialogue, state, talk(state), said)
    last = client.requests[-1]
    assert [m["content"] for m in last[1:]] == ["二问", "老夫第2次答你。", "三问", "老夫第3次答你。", "四问"]
    assert npc_dialogue.history(("p1", "zhangmen")) == (("三问", "老夫第3次答你。"), ("四问", "老夫第4次答你。"))


async def test_memory_is_per_player_and_npc(world: World) -> None:
    client = FakeChat()
    npc_dialogue = dialogue(world, client)
    first, second = player(world, "p1"), player(world, "p2")
    await converse(npc_dialogue, first, talk(first), "我是一号")
    await converse(npc_dialogue, second, talk(second), "我是二号")
    await converse(npc_dialogue, first, talk(first, "chuangong"), "请教长老")
    assert [m["role"] for m in client.requests[1]] == ["system", "user"]  # p2 does not hear p1's talk
    assert [m["role"] for m in client.requests[2]] == ["system", "user"]  # another NPC, another conversation
    assert len(npc_dialogue) == 3


async def test_conversations_are_bounded_least_recently_used_first(world: World) -> None:
    npc_dialogue = dialogue(world, FakeChat(), conversations=3)
    states = [player(world, f"p{i}") for i in range(5)]
    for state in states[:3]:
        await converse(npc_dialogue, state, talk(state), "你好")
    await converse(npc_dialogue, states[0], talk(states[0]), "又来了")  # p0 is now the most recent
    for state in states[3:]:
        await converse(npc_dialogue, state, talk(state), "你好")
    assert len(npc_dialogue) == 3
    assert npc_dialogue.history(("p1", "zhangmen")) == ()
    assert npc_dialogue.history(("p2", "zhangmen")) == ()
    assert len(npc_dialogue.history(("p0", "zhangmen"))) == 2


async def test_replying_remembers_nothing_so_a_redone_action_is_not_remembered_twice(world: World) -> None:
    client = FakeChat()
    state = player(world)
    npc_dialogue = dialogue(world, client)
    first = await npc_dialogue(state, talk(state), "请教")
    second = await npc_dialogue(state, talk(state), "请教")  # the game redoes the action after a version conflict

    assert first and second
    assert [m["role"] for m in client.requests[1]] == ["system", "user"]  # the uncommitted try is not history
    assert len(npc_dialogue) == 0

    npc_dialogue.remember(state, talk(state), "请教", second)  # the commit succeeded
    assert npc_dialogue.history(("p1", "zhangmen")) == (("请教", second),)


async def test_remember_keeps_the_exchange_as_it_was_sent(world: World) -> None:
    client = FakeChat()
    state = player(world)
    npc_dialogue = dialogue(world, client)
    await converse(npc_dialogue, state, talk(state), None)
    await converse(npc_dialogue, state, talk(state), "\x1b你好")

    assert npc_dialogue.history(("p1", "zhangmen")) == ((GREETING, "老夫第1次答你。"), ("你好", "老夫第2次答你。"))
    assert client.requests[1][1:3] == [
        {"role": "user", "content": GREETING},
        {"role": "assistant", "content": "老夫第1次答你。"},
    ]


@pytest.mark.parametrize(
    ("outcome_args", "line"),
    [({}, None), ({}, ""), ({"intent": "look"}, "一句"), ({"npc": "yelang"}, "一句")],
)
async def test_remember_ignores_a_canned_line_and_anything_but_a_talk_to_an_npc(
    world: World, outcome_args: dict[str, object], line: str | None
) -> None:
    state = player(world)
    npc_dialogue = dialogue(world, FakeChat())
    npc_dialogue.remember(state, talk(state, **outcome_args), "你好", line)  # type: ignore[arg-type]
    assert len(npc_dialogue) == 0


async def test_player_text_is_cleaned_and_capped_before_it_is_sent(world: World) -> None:
    client = FakeChat()
    state = player(world)
    await dialogue(world, client)(state, talk(state), "\x1b[2J你好" + "啊" * 1000)
    sent = client.requests[0][-1]["content"]
    assert sent.startswith("[2J你好") and "\x1b" not in sent and len(sent) <= 200


async def test_real_client_carries_the_npc_reply(world: World) -> None:
    sent: list[dict[str, object]] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        message = {"role": "assistant", "content": "  贫道观你骨骼清奇。\n"}
        return httpx.Response(200, json={"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})

    settings = Settings(deepseek_api_key="test-key", deepseek_base_url="https://deepseek.test", llm_max_retries=1)
    client = DeepSeekClient(settings, world, transport=httpx.MockTransport(upstream))
    await client.start()
    try:
        state = player(world, location="yiji")
        line = await NPCDialogue(client, world, mode=lambda: "async", budget=5.0)(state, talk(state, "laodao"), "请教")
    finally:
        await client.aclose()
    assert line == "贫道观你骨骼清奇。"
    assert sent[0]["user_id"] == player_hash("p1")
    messages = sent[0]["messages"]
    assert isinstance(messages, list) and messages[-1] == {"role": "user", "content": "请教"}
