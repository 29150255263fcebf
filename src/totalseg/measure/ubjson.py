"""A small Universal Binary JSON (UBJSON) reader, enough for xgboost's model files.

xgboost saves models as UBJSON (``Booster.save_raw("ubj")``): JSON's objects, arrays, strings and
numbers in a big-endian binary form, with optimized containers (``[$d#L<n>`` followed by ``n`` raw
float32 values) for the long per-node arrays of each tree. This reader decodes such optimized
numeric arrays straight into numpy arrays; everything else becomes plain Python values.

Examples:
    >>> decode(b"{i\\x01aSi\\x02hi}")
    {'a': 'hi'}
    >>> decode(b"[$U#i\\x03\\x01\\x02\\x03").tolist()
    [1, 2, 3]
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from totalseg.errors import InputError

# UBJSON number markers: struct format (big-endian) and the matching numpy dtype.
_NUMBERS = {
    b"i": (">b", ">i1"), b"U": (">B", ">u1"), b"I": (">h", ">i2"), b"l": (">i", ">i4"), b"L": (">q", ">i8"),
    b"d": (">f", ">f4"), b"D": (">d", ">f8"),
}
_CONSTANTS = {b"T": True, b"F": False, b"Z": None}


def decode(data: bytes | bytearray | memoryview) -> Any:
    """The value encoded in ``data`` (one UBJSON value, nothing after it).

    Raises:
        InputError: ``data`` is not well-formed UBJSON.
    """
    reader = _Reader(memoryview(data))
    try:
        value = reader.value(reader.marker())
    except (IndexError, struct.error, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"not a UBJSON model (byte {reader.pos}: {exc}); expected an xgboost .ubj model") from None
    if reader.pos != len(data):
        raise InputError(f"not a UBJSON model: {len(data) - reader.pos} bytes after the end of its value")
    return value


class _Reader:
    def __init__(self, data: memoryview) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> memoryview:
        if self.pos + n > len(self.data):
            raise ValueError("truncated")
        chunk = self.data[self.pos: self.pos + n]
        self.pos += n
        return chunk

    def marker(self) -> bytes:
        while (m := bytes(self.take(1))) == b"N":  # no-op padding
            pass
        return m

    def number(self, marker: bytes) -> int | float:
        fmt = _NUMBERS[marker][0]
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def count(self) -> int:
        n = self.number(self.marker())
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"bad container length {n}")
        return n

    def string(self) -> str:
        return str(self.take(self.count()), "utf-8")

    def value(self, marker: bytes) -> Any:
        if marker in _NUMBERS:
            return self.number(marker)
        if marker in _CONSTANTS:
            return _CONSTANTS[marker]
        if marker == b"S":
            return self.string()
        if marker == b"C":
            return str(self.take(1), "utf-8")
        if marker == b"[":
            return self.array()
        if marker == b"{":
            return self.object()
        raise ValueError(f"unknown marker {marker!r}")

    def header(self) -> tuple[bytes | None, int | None]:
        """An optimized container's ``$type`` and ``#count``, when present."""
        kind = count = None
        if bytes(self.data[self.pos: self.pos + 1]) == b"$":
            self.pos += 1
            kind = bytes(self.take(1))
        if bytes(self.data[self.pos: self.pos + 1]) == b"#":
            self.pos += 1
            count = self.count()
        if kind is not None and count is None:
            raise ValueError("typed container without a count")
        return kind, count

    def array(self) -> list | np.ndarray:
        kind, count = self.header()
        if kind in _NUMBERS:
            dtype = np.dtype(_NUMBERS[kind][1])
            raw = self.take(count * dtype.itemsize)
            return np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("="))
        if count is not None:
            return [self.value(kind or self.marker()) for _ in range(count)]
        items = []
        while (m := self.marker()) != b"]":
            items.append(self.value(m))
        return items

    def object(self) -> dict:
        kind, count = self.header()
        out = {}
        if count is not None:
            for _ in range(count):
                key = self.string()
                out[key] = self.value(kind or self.marker())
            return out
        while True:
            m = self.marker()
            if m == b"}":
                return out
            self.pos -= 1
            key = self.string()
            out[key] = self.value(self.marker())
