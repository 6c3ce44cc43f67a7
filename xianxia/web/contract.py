"""The OpenAPI document says what the runtime does: one source for each limit, body and answer.

Limits an operator can configure (text lengths, batch size) live in `Settings`; `LIMITS` names, for
each, the body field it bounds. The routes enforce them through `enforce`, and the document served at
`/openapi.json` states the same numbers (`ContractOpenAPIProvider`), so a client or a fuzzer reading the
document is never told a larger limit than the one applied. Fixed limits are pydantic constraints on
the models themselves: validated and documented from the same declaration.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from quart_schema import OpenAPIProvider

from xianxia.config import Settings
from xianxia.game.errors import InvalidRequest
from xianxia.web.llm_access import llm_closed
from xianxia.web.services import EXTENSION_KEY, Services


@dataclass(frozen=True, slots=True)
class Limit:
    """A body field bounded by a setting: `maxLength` of a string (or of each item), `maxItems` of a list."""

    model: str
    field: str
    setting: str
    keyword: Literal["maxLength", "maxItems"]
    each: bool = False  # the limit bounds every item of a list field

    def value(self, settings: Settings) -> int:
        return int(getattr(settings, self.setting))


LIMITS: tuple[Limit, ...] = (
    Limit("Act", "text", "max_text_chars", "maxLength"),
    Limit("ParseIn", "utterance", "max_text_chars", "maxLength"),
    Limit("ChatIn", "prompt", "llm_chat_max_chars", "maxLength"),
    Limit("BatchIn", "prompts", "llm_batch_max", "maxItems"),
    Limit("BatchIn", "prompts", "llm_chat_max_chars", "maxLength", each=True),
)


def enforce(body: BaseModel, settings: Settings) -> None:
    """422 naming the field for the first configured limit `body` goes past."""
    for limit in LIMITS:
        value = getattr(body, limit.field) if limit.model == type(body).__name__ else None
        if value is None:
            continue
        most = limit.value(settings)
        if limit.each:
            for index, item in enumerate(value):
                if len(item) > most:
                    raise InvalidRequest(
                        f"{limit.field}.{index}", f"too long: {len(item)} characters, the limit is {most}"
                    )
        elif limit.keyword == "maxItems" and len(value) > most:
            raise InvalidRequest(limit.field, f"at most {most} items, got {len(value)}")
        elif len(value) > most:
            raise InvalidRequest(limit.field, f"too long: {len(value)} characters, the limit is {most}")


def _schemas_titled(node: Any, title: str) -> Iterator[dict[str, Any]]:
    """Every schema object in the document that describes the model `title`."""
    if isinstance(node, dict):
        if node.get("title") == title and "properties" in node:
            yield node
        for value in node.values():
            yield from _schemas_titled(value, title)
    elif isinstance(node, list):
        for value in node:
            yield from _schemas_titled(value, title)


def _variants(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The schema itself, or the alternatives of an optional field (`anyOf: [{...}, {"type": "null"}]`)."""
    return [variant for variant in schema.get("anyOf", [schema]) if variant.get("type") != "null"]


def state_limits(document: dict[str, Any], settings: Settings) -> None:
    """Write each configured limit into every schema of its model."""
    for limit in LIMITS:
        for schema in _schemas_titled(document, limit.model):
            for variant in _variants(schema["properties"][limit.field]):
                target = variant["items"] if limit.each else variant
                target[limit.keyword] = limit.value(settings)


def sse_events(*names: str) -> dict[str, Any]:
    """A Server-Sent Events answer; before OpenAPI 3.2 (`itemSchema`) its `schema` describes one event."""
    event = {
        "type": "object",
        "required": ["event", "data"],
        "properties": {"event": {"enum": list(names)}, "data": {"type": "string", "description": "a JSON object"}},
    }
    return {"text/event-stream": {"schema": event}}


#: Answers that are not JSON (quart-schema documents every answer as JSON): (path, method) -> their 200.
TEXT_ANSWERS: dict[tuple[str, str], dict[str, Any]] = {
    ("/metrics", "get"): {"text/plain": {"schema": {"type": "string"}}},
    ("/api/llm/chat/stream", "post"): sse_events("token", "done", "error"),
}
#: Answers that are JSON, or a stream when the client sends `Accept: text/event-stream`.
STREAMABLE: dict[tuple[str, str], dict[str, Any]] = {
    ("/api/players/{player_id}/act", "post"): sse_events("narration", "answer", "error"),
}


def complete(document: dict[str, Any], settings: Settings) -> None:
    """What quart-schema cannot say by itself: configured limits, required bodies, text answers, LLM access."""
    state_limits(document, settings)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody")
            if body is not None:
                body["required"] = True  # every body of this API is; without one the answer is 415 or 422
            answers = operation["responses"]  # keyed by int status until the document is serialised
            if (path, method) in TEXT_ANSWERS:
                answers[200] = {"description": "", "content": TEXT_ANSWERS[path, method]}
            if (path, method) in STREAMABLE:
                answers[200]["content"].update(STREAMABLE[path, method])
            if path.startswith("/api/llm/"):
                # The service token or a player's own; anonymous callers only while the routes are open.
                operation["security"] = [{"bearer": []}] if llm_closed(settings) else [{"bearer": []}, {}]


class ContractOpenAPIProvider(OpenAPIProvider):
    """quart-schema's document, completed by `complete` with the app's own settings."""

    def schema(self) -> dict[str, Any]:
        document = super().schema()
        found: Services = self._app.extensions[EXTENSION_KEY]
        complete(document, found.settings)
        return document
