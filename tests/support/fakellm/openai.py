"""The slice of DeepSeek's OpenAI-compatible wire format the fake speaks: requests, completions, errors."""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ChatMessage(BaseModel):
    """One message of a chat request; tool and name fields are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None


class ResponseFormat(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Literal["text", "json_object"] = "text"


class ChatRequest(BaseModel):
    """`POST /chat/completions`; sampling options (temperature, top_p, ...) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    response_format: ResponseFormat | None = None
    max_tokens: int | None = Field(None, ge=1)
    user_id: str | None = None
    stream: bool = False

    @property
    def wants_json(self) -> bool:
        return self.response_format is not None and self.response_format.type == "json_object"

    def last_user_content(self) -> str:
        for message in reversed(self.messages):
            if message.role == "user":
                return message.content or ""
        return ""

    def system_content(self) -> str:
        return "\n".join(message.content or "" for message in self.messages if message.role == "system")


def count_tokens(text: str) -> int:
    """A rough token count: DeepSeek's tokenizer gives about one token per CJK character or English word piece."""
    return max(1, len(text.encode("utf-8")) // 3)


def completion(request: ChatRequest, content: str) -> dict[str, Any]:
    """A non-streaming `chat.completion` answering `request` with `content`."""
    prompt_tokens = sum(count_tokens(message.content or "") for message in request.messages)
    completion_tokens = count_tokens(content)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_cache_hit_tokens": 0,
            "prompt_cache_miss_tokens": prompt_tokens,
        },
        "system_fingerprint": "fp_fakellm",
    }


ErrorType = Literal[
    "invalid_request_error",
    "authentication_error",
    "insufficient_balance",
    "rate_limit_error",
    "server_error",
    "not_found_error",
]


def error_body(message: str, type_: ErrorType, code: str | None = None) -> dict[str, Any]:
    """OpenAI's error envelope, as DeepSeek answers it."""
    return {"error": {"message": message, "type": type_, "param": None, "code": code or type_}}


def model_list(models: tuple[str, ...]) -> dict[str, Any]:
    """`GET /models`."""
    return {"object": "list", "data": [{"id": model, "object": "model", "owned_by": "deepseek"} for model in models]}
