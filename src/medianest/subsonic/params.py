"""A request's parameters, from the query string and (the `formPost` extension) a form body, with typed
getters that answer the spec's errors: 10 for a missing required parameter, 0 for one that is not what
it must be. Repeated parameters (`id=1&id=2`, `songIdToAdd`) are kept in order."""

from __future__ import annotations

import builtins
from collections.abc import Sequence

from starlette.datastructures import ImmutableMultiDict

from medianest.subsonic.protocol import GENERIC, SubsonicError, missing

# Numbers a client may send (ids, sizes, offsets, positions) fit in a 64-bit column; longer digit
# strings are garbage, not a reason for a 500 from the database driver.
MAX_DIGITS = 18


class Params:
    def __init__(self, items: Sequence[tuple[builtins.str, builtins.str]]) -> None:
        self._all = ImmutableMultiDict(items)

    def str(self, name: builtins.str) -> builtins.str:
        value = self.opt(name)
        if value is None:
            raise missing(name)
        return value

    def opt(self, name: builtins.str) -> builtins.str | None:
        """The parameter's first value (a repeated one: the first, as Navidrome reads it)."""
        values = self.all(name)  # a NUL in any of its values is refused, the one used or not
        return values[0] if values else None

    def all(self, name: builtins.str) -> list[builtins.str]:
        values = self._all.getlist(name)
        if any("\0" in v for v in values):
            raise SubsonicError(GENERIC, f"parameter {name} holds a NUL character")
        return values

    def int(self, name: builtins.str, default: builtins.int | None = None, low: builtins.int | None = None,
            high: builtins.int | None = None) -> builtins.int:
        value = self.opt_int(name, low, high)
        if value is None:
            if default is None:
                raise missing(name)
            return default
        return value

    def opt_int(self, name: builtins.str, low: builtins.int | None = None,
                high: builtins.int | None = None) -> builtins.int | None:
        raw = self.opt(name)
        if raw is None or raw == "":
            return None
        number = as_int(raw, name)
        if low is not None and number < low:
            number = low
        if high is not None and number > high:
            number = high
        return number

    def bool(self, name: builtins.str, default: builtins.bool) -> builtins.bool:
        raw = self.opt(name)
        if raw is None or raw == "":
            return default
        if raw.lower() in ("true", "1"):
            return True
        if raw.lower() in ("false", "0"):
            return False
        raise SubsonicError(GENERIC, f"parameter {name} must be true or false")

    def has(self, name: builtins.str) -> builtins.bool:
        return name in self._all


def as_int(raw: str, name: str) -> int:
    text = raw.strip()
    digits = text[1:] if text[:1] in "+-" else text
    if not digits.isascii() or not digits.isdigit() or len(digits) > MAX_DIGITS:
        raise SubsonicError(GENERIC, f"parameter {name} must be a number")
    return int(text)
