"""Record scripted players through the real service and store, and dump their logs as a replay fixture.

`python -m tests.support.record_log OUT.json` writes what the code at hand logs; the fixture
`tests/data/replay_rules_v1.json` was written this way by the rules-1 engine (commit f38c478), so the
replay test proves a log of that engine still replays exactly under every later rules version.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from xianxia.game.service import GameService
from xianxia.parsing.rules import RulesParser
from xianxia.store.sqlite import SQLiteStore
from xianxia.world import load_world

SCRIPT: tuple[str, ...] = (
    "看看",
    "攻击野狼",
    "去坊市",
    "买两颗回春丹",
    "买精铁剑",
    "装备精铁剑",
    "使用精铁剑",
    "使用精铁剑",
    "卖回春丹",
    "回主城",
    "去青云宗",
    "和掌门说话",
    "去灵泉",
    *(["打坐修炼"] * 6),
    "突破",
    "打坐",
    "打坐",
    "打坐",
    "突破",
    "去青云宗",
    "回主城",
    "去后山",
    "探索",
    "攻击灵兔",
    "攻击野狼",
    "探索",
    "休息",
    "去黑风林",
    "攻击赤焰虎",
    "攻击黑风狼王",
    "状态",
    "背包",
    "探索",
    "去上古遗迹",
    "探索",
    "探索",
    "探索",
    "使用古玉",
    "使用血祭秘术",
    "卖血祭秘术",
    "去禁地",
    "帮助",
    "今天天气不错",
    "去主城",
    "去客栈",
    "探索",
    "探索",
    "和小二聊聊",
)


async def record(seeds: int = 3) -> dict[str, Any]:
    world = load_world()
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "record.db")
        await store.open()
        try:
            service = GameService(world, store, RulesParser(world), clock=lambda: 0.0)
            players: list[dict[str, Any]] = []
            for number in range(seeds):
                state, _token = await service.create_player(f"试炼者{number}")
                # Every other player skips the pills, so can afford the sword and stacks it (rules 1 let it).
                script = SCRIPT if number % 2 == 0 else tuple(t for t in SCRIPT if t != "买两颗回春丹")
                for text in script:
                    await service.act(state.id, text=text)
                record_ = await service.get_player(state.id)
                entries = await service.action_log(state.id)
                players.append(
                    {
                        "state": record_.state.model_dump(),
                        "entries": [
                            {
                                "seq": e.seq,
                                "version": e.version,
                                "text": e.text,
                                "intent": e.intent,
                                "parser": e.parser,
                                "outcome": e.outcome,
                            }
                            for e in entries
                        ],
                    }
                )
        finally:
            await store.close()
    return {"players": players}


if __name__ == "__main__":
    recorded = asyncio.run(record())
    Path(sys.argv[1]).write_text(json.dumps(recorded, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
