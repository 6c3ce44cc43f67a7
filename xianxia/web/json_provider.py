"""orjson under Quart's JSON provider: the same JSON for our bodies, in a fraction of the time.

Anything orjson will not take (an integer beyond 64 bits, keyword arguments such as `indent`) goes to the
provider quart-schema installed, which also turns pydantic models and dataclasses into JSON; so does any
type orjson does not know, through `default`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import orjson
from quart import Quart, Response
from quart.json.provider import DefaultJSONProvider, JSONProvider

#: Dict keys need not be strings (as with json.dumps); datetimes and dataclasses keep the fallback's form.
OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class FastJSONProvider(JSONProvider):
    """`dumps`, `loads` and `response` through orjson, with `fallback` for what orjson refuses."""

    mimetype = "application/json"

    def __init__(self, app: Quart, fallback: DefaultJSONProvider) -> None:
        super().__init__(app)
        self._fallback = fallback

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return self._bytes(obj, kwargs, 0).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if kwargs:
            return self._fallback.loads(s, **kwargs)
        try:
            return orjson.loads(s)
        except orjson.JSONDecodeError:
            # The standard library reads a little more (NaN, huge integers) and words its errors as before.
            return self._fallback.loads(s)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        obj = self._prepare_response_obj(args, kwargs)
        body = self._bytes(obj, {}, orjson.OPT_APPEND_NEWLINE)
        # Flask's provider types its app as Flask's; ours is a Quart app, whose response class takes bytes.
        make = cast(Callable[..., Response], self._app.response_class)
        return make(body, mimetype=self.mimetype)

    def _bytes(self, obj: Any, kwargs: dict[str, Any], option: int) -> bytes:
        if not kwargs:
            try:
                return orjson.dumps(obj, default=self._fallback.default, option=OPTIONS | option)
            except orjson.JSONEncodeError:
                pass
        text = self._fallback.dumps(obj, **kwargs)
        return (text + "\n" if option & orjson.OPT_APPEND_NEWLINE else text).encode()
