"""NPC dialogue through the LLM: a carried-out `talk` answered in the NPC's voice, with a short bounded memory."""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from typing import Protocol

import structlog

from xianxia.config import LLMMode
from xianxia.engine import Outcome, PlayerState
from xianxia.llm.client import player_hash
from xianxia.llm.errors import LLMError, error_type
from xianxia.llm.prompts import build_chat_messages
from xianxia.llm.validation import CONTROL_CHARACTERS, clean_text
from xianxia.world import World
from xianxia.world.schema import NPC

log = structlog.get_logger(__name__)

#: What the player "says" when the command carried no words of its own.
GREETING = "（上前行礼）"
MAX_REPLY_CHARS = 300
MAX_SAID_CHARS = 200
REPLY_TOKENS = 200


class ChatClient(Protocol):
    """The part of `DeepSeekClient` dialogue uses."""

    async def complete_async(
        self,
        messages: list[dict[str, str]],
        *,
        json_mode: bool = False,
        user: str | None = None,
        max_tokens: int | None = None,
    ) -> str: ...

    def stream_async(
        self,
        messages: list[dict[str, str]],
        *,
        user: str | None = None,
        max_tokens: int | None = None,
    ) -> AsyncIterator[str]: ...


#: Told each piece of a streamed line as it is written.
Emit = Callable[[str], None]


class StreamedLine:
    """A line cleaned as it streams: what is emitted is exactly what the line holds at the end.

    Control characters are dropped, leading whitespace skipped, trailing whitespace held back until more
    text follows it, and the line stops at `limit` characters.
    """

    def __init__(self, limit: int, emit: Emit) -> None:
        self._limit = limit
        self._emit = emit
        self._held = ""
        self.text = ""

    @property
    def full(self) -> bool:
        return len(self.text) >= self._limit

    def add(self, piece: str) -> None:
        piece = CONTROL_CHARACTERS.sub("", piece)
        if not self.text:
            piece = piece.lstrip()
        body = piece.rstrip()
        if body:
            out = (self._held + body)[: self._limit - len(self.text)]
            self._held = piece[len(body) :]
            if out:
                self.text += out
                self._emit(out)
        else:
            self._held += piece


class NPCDialogue:
    """The game's dialogue hook: the NPC's LLM reply, or None to keep the canned line.

    Replying does not remember: the game calls `remember` once the action is committed, so an action redone
    after a version conflict does not leave its exchange in the memory twice (or at all, if it never commits).
    """

    def __init__(
        self,
        client: ChatClient,
        world: World,
        *,
        mode: Callable[[], LLMMode],
        budget: float,
        turns: int = 4,
        conversations: int = 10_000,
    ) -> None:
        self._client = client
        self._world = world
        self._mode = mode
        self._budget = budget
        self._turns = max(1, turns)
        self._conversations = max(1, conversations)
        # (player id, npc id) -> the last exchanges, least recently used first.
        self._memory: OrderedDict[tuple[str, str], deque[tuple[str, str]]] = OrderedDict()

    async def __call__(self, state: PlayerState, outcome: Outcome, text: str | None) -> str | None:
        """The NPC's reply to a carried-out talk; None keeps the canned line. Remembers nothing (see `remember`)."""
        # Both modes use the async client: the sync path exists for parsing and /chat/sync compatibility,
        # and `off` is the rollback switch that brings back the canned lines.
        if self._mode() == "off" or outcome.intent.intent != "talk" or not outcome.allowed:
            return None
        npc = self._world.npcs.get(outcome.intent.slot("target") or "")
        if npc is None:
            return None
        said = _said(text)
        messages = build_chat_messages(
            said, persona=self._persona(npc.persona, outcome.state), history=self.history((state.id, npc.id))
        )
        try:
            async with asyncio.timeout(self._budget):
                raw = await self._client.complete_async(messages, user=player_hash(state.id), max_tokens=REPLY_TOKENS)
        except TimeoutError:
            log.info("npc_dialogue_timeout", npc=npc.id, budget=self._budget)
            return None
        except LLMError as exc:
            log.info("npc_dialogue_error", npc=npc.id, error_type=error_type(exc))
            return None
        except Exception:
            # Dialogue is flavour: a bug in its path keeps the canned line instead of failing the action.
            log.exception("npc_dialogue_crashed", npc=npc.id)
            return None
        return clean_text(raw, MAX_REPLY_CHARS) or None

    async def stream(self, state: PlayerState, outcome: Outcome, text: str | None, emit: Emit) -> str | None:
        """`__call__`, streamed: each piece goes to `emit` as the model writes it; the line is what was emitted.

        If the stream fails after some text was shown, the line is the text shown (the player read it);
        if it fails before any, None keeps the canned line.
        """
        npc = self._speaker(outcome)
        if npc is None:
            return None
        said = _said(text)
        messages = build_chat_messages(
            said, persona=self._persona(npc.persona, outcome.state), history=self.history((state.id, npc.id))
        )
        line = StreamedLine(MAX_REPLY_CHARS, emit)
        pieces = self._client.stream_async(messages, user=player_hash(state.id), max_tokens=REPLY_TOKENS)
        try:
            async with asyncio.timeout(self._budget):
                async for piece in pieces:
                    line.add(piece)
                    if line.full:
                        break
        except TimeoutError:
            log.info("npc_dialogue_timeout", npc=npc.id, budget=self._budget, shown=len(line.text))
        except LLMError as exc:
            log.info("npc_dialogue_error", npc=npc.id, error_type=error_type(exc), shown=len(line.text))
        except Exception:
            log.exception("npc_dialogue_crashed", npc=npc.id)
        finally:
            aclose = getattr(pieces, "aclose", None)
            if aclose is not None:
                await aclose()
        return line.text or None

    def _speaker(self, outcome: Outcome) -> NPC | None:
        if self._mode() == "off" or outcome.intent.intent != "talk" or not outcome.allowed:
            return None
        return self._world.npcs.get(outcome.intent.slot("target") or "")

    def remember(self, state: PlayerState, outcome: Outcome, text: str | None, line: str | None) -> None:
        """Keep a committed exchange: `line` is what `__call__` answered for this state, outcome and text."""
        npc_id = outcome.intent.slot("target") or ""
        if line and outcome.intent.intent == "talk" and npc_id in self._world.npcs:
            self._remember((state.id, npc_id), _said(text), line)

    def history(self, key: tuple[str, str]) -> tuple[tuple[str, str], ...]:
        """The remembered (player said, NPC answered) exchanges of one conversation, oldest first."""
        turns = self._memory.get(key)
        return tuple(turns) if turns is not None else ()

    def __len__(self) -> int:
        """How many conversations are remembered."""
        return len(self._memory)

    def _remember(self, key: tuple[str, str], said: str, reply: str) -> None:
        turns = self._memory.get(key)
        if turns is None:
            turns = self._memory[key] = deque(maxlen=self._turns)
        self._memory.move_to_end(key)
        turns.append((said, reply))
        while len(self._memory) > self._conversations:
            self._memory.popitem(last=False)

    def _persona(self, persona: str, state: PlayerState) -> str:
        scene = self._world.scenes.get(state.location)
        realm = self._world.realm(state.realm) if state.realm in self._world.realm_index else None
        where = f"你在{scene.name}。" if scene is not None else ""
        who = f"对方是{realm.name}{state.stage}层的修士。" if realm is not None else "对方是一位修士。"
        return f"{persona}{where}{who}以角色口吻用中文回答，简短（不超过80字），不提及自己是AI，不跳出游戏。"


def _said(text: str | None) -> str:
    """What the player says to the NPC, as sent and as remembered."""
    return clean_text(text, MAX_SAID_CHARS) or GREETING
