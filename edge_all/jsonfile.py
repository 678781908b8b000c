"""Read a JSON object from a file strictly, and take typed values out of it with one-line errors.

bundle.json and quality configs come from outside (a USB stick, another lab): nested ten thousand
levels deep, a list instead of an object, or a string where a number belongs, they must be
refused with one line naming the file and the key, never end in a RecursionError, AttributeError
or TypeError traceback. `read_json_object` reads a regular file of bounded size (edge_all.
regular_files), refuses deep nesting (counted without recursion), requires an object at the top;
`JsonObject`'s accessors (`text`, `integer`, `number`, `texts`, `integers`, `object`) check each
value's type as it is taken.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from edge_all.errors import EdgeAllError, FileError
from edge_all.regular_files import SMALL_FILE_LIMIT, read_regular_text
from edge_all.safe_text import printable  # a key from a file may hold a newline: one line still

# A manifest or config is a few levels deep; anything deeper is damage or an attack.
MAX_DEPTH = 32
_REQUIRED: Any = object()


def _type_name(value: object) -> str:
    names = {bool: "true/false", int: "an integer", float: "a number", str: "a string", list: "a list"}
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    return names.get(type(value), type(value).__name__)


def nesting_depth(value: Any) -> int:
    """How deeply lists and objects nest in a parsed JSON value, counted without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


class JsonObject(Mapping[str, Any]):
    """A JSON object read from `where` (a file), whose accessors raise `error` naming it and the key.

    It is a read-only Mapping, so code written for plain dicts reads it too.
    """

    def __init__(
        self,
        data: Mapping[str, Any],
        where: str = "JSON",
        error: type[Exception] = FileError,
        prefix: str = "",
    ) -> None:
        self._data = dict(data)
        self.where = where
        self.error = error
        self._prefix = prefix

    @classmethod
    def of(
        cls, data: Mapping[str, Any], where: str = "JSON", error: type[Exception] = ValueError
    ) -> JsonObject:
        """`data` itself when it already is a JsonObject; otherwise wrapped (plain dicts from code)."""
        if isinstance(data, JsonObject):
            return data
        if not isinstance(data, Mapping):
            raise error(f"{where}: expected a JSON object, got {_type_name(data)}")
        return cls(data, where, error)

    # Mapping
    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def to_dict(self) -> dict[str, Any]:
        return dict(self._data)

    # typed access
    def fail(self, key: str, problem: str) -> Exception:
        """The one-line error for a bad value at `key` (to raise)."""
        return self.error(f"{self.where}: {printable(self._prefix + str(key))}: {problem}")

    def _get(self, key: str, default: Any) -> Any:
        if key in self._data:
            return self._data[key]
        if default is _REQUIRED:
            raise self.error(f"{self.where}: missing key {printable(self._prefix + str(key))}")
        return default

    def _expected(self, key: str, what: str, value: object) -> Exception:
        return self.fail(key, f"expected {what}, got {_type_name(value)}")

    def value(self, key: str, default: Any = _REQUIRED) -> Any:
        """The raw value (for parts kept verbatim, such as a report)."""
        return self._get(key, default)

    def text(self, key: str, default: Any = _REQUIRED) -> str:
        value = self._get(key, default)
        if value is default and default is not _REQUIRED:
            return value
        if not isinstance(value, str):
            raise self._expected(key, "a string", value)
        return value

    def integer(self, key: str, default: Any = _REQUIRED, minimum: int | None = None) -> int:
        value = self._get(key, default)
        if value is default and default is not _REQUIRED:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._expected(key, "an integer", value)
        if minimum is not None and value < minimum:
            raise self.fail(key, f"must be at least {minimum}, not {value}")
        return value

    def number(self, key: str, default: Any = _REQUIRED, minimum: float | None = None) -> float:
        """A finite number (NaN and infinities are refused: they silently disable comparisons)."""
        value = self._get(key, default)
        if value is default and default is not _REQUIRED:
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._expected(key, "a number", value)
        if not math.isfinite(value):
            raise self.fail(key, f"must be a finite number, not {value}")
        if minimum is not None and value < minimum:
            raise self.fail(key, f"must be at least {minimum:g}, not {value:g}")
        return float(value)

    def texts(self, key: str, default: Any = _REQUIRED) -> list[str]:
        value = self._get(key, default)
        if value is default and default is not _REQUIRED:
            return value
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self._expected(key, "a list of strings", value)
        return list(value)

    def integers(self, key: str, default: Any = _REQUIRED, minimum: int | None = None) -> list[int]:
        value = self._get(key, default)
        if value is default and default is not _REQUIRED:
            return value
        if not isinstance(value, list) or not all(
            isinstance(item, int) and not isinstance(item, bool) for item in value
        ):
            raise self._expected(key, "a list of integers", value)
        if minimum is not None and any(item < minimum for item in value):
            raise self.fail(key, f"every item must be at least {minimum}, not {value}")
        return list(value)

    def require_finite(self) -> JsonObject:
        """This object, once no number anywhere in it is NaN or infinite: Python's json reads both,
        JSON has neither, and a document holding one could not be written back as JSON."""
        bad = non_finite_path(self._data)
        if bad is not None:
            raise self.fail(bad[0], f"must be a finite number, not {bad[1]}")
        return self

    def object(self, key: str, default: Any = _REQUIRED) -> JsonObject:
        """A nested object, whose own errors name the path to it (`input.quantization.scale`)."""
        value = self._get(key, default)
        if value is default and default is not _REQUIRED:
            return value
        if not isinstance(value, dict):
            raise self._expected(key, "an object", value)
        return JsonObject(value, self.where, self.error, f"{self._prefix}{key}.")


def non_finite_path(value: Any) -> tuple[str, float] | None:
    """The dotted path to the first NaN or infinity in a parsed JSON value (which Python's json
    reads, though JSON has no such numbers), counted without recursion; None when there is none."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return path, item
        if isinstance(item, dict):
            stack.extend((f"{path}.{key}" if path else str(key), child) for key, child in item.items())
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", child) for i, child in enumerate(item))
    return None


def parse_json_object(
    text: str, where: str, error: type[EdgeAllError] = FileError, max_depth: int = MAX_DEPTH
) -> JsonObject:
    """Parse JSON text that must be an object nested at most `max_depth` levels."""
    too_deep = f"{where}: JSON nested more than {max_depth} levels deep; refusing it"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{where}: not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno})") from None
    except RecursionError:  # the parser's own guard (it counts its depth); caught, never shown
        raise error(too_deep) from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise error(f"{where}: not usable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise error(f"{where}: expected a JSON object at the top, got {_type_name(data)}")
    if nesting_depth(data) > max_depth:
        raise error(too_deep)
    return JsonObject(data, where, error)


def read_json_object(
    path: str | Path,
    what: str = "JSON file",
    error: type[EdgeAllError] = FileError,
    limit: int = SMALL_FILE_LIMIT,
    max_depth: int = MAX_DEPTH,
) -> JsonObject:
    """Read a regular file of at most `limit` bytes holding one JSON object (see the module doc)."""
    text = read_regular_text(path, what, error, limit)
    return parse_json_object(text, f"{path}", error, max_depth)
