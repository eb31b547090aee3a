"""Python values to and from MessagePack (``_native.pack`` / ``unpack``, what every call and map
item goes through): the encodings other peers read, the values that come back, and the limits."""

import enum
import struct

import pytest

from omnitron._native import pack, unpack
from omnitron.errors import InvalidArgumentError


class Level(enum.IntEnum):
    HIGH = 3


class Name(str):
    pass


def test_encodings_are_the_smallest_messagepack_ones() -> None:
    cases = [
        (None, b"\xc0"),
        (True, b"\xc3"),
        (False, b"\xc2"),
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\xcc\x80"),
        (65_535, b"\xcd\xff\xff"),
        (2**32, b"\xcf" + (2**32).to_bytes(8, "big")),
        (2**64 - 1, b"\xcf" + b"\xff" * 8),
        (-1, b"\xff"),
        (-32, b"\xe0"),
        (-33, b"\xd0\xdf"),
        (-129, b"\xd1\xff\x7f"),
        (-(2**31), b"\xd2\x80\x00\x00\x00"),
        (-(2**63), b"\xd3\x80" + b"\x00" * 7),
        (1.5, b"\xcb" + struct.pack(">d", 1.5)),
        ("", b"\xa0"),
        ("é", b"\xa2\xc3\xa9"),
        ("x" * 32, b"\xd9\x20" + b"x" * 32),
        (b"\x01", b"\xc4\x01\x01"),
        ([], b"\x90"),
        ((1, 2), b"\x92\x01\x02"),
        (list(range(16)), b"\xdc\x00\x10" + bytes(range(16))),
        ({"a": 1}, b"\x81\xa1a\x01"),
        (Level.HIGH, b"\x03"),  # subclasses of the built-in types go as those
        (Name("n"), b"\xa1n"),
    ]
    for value, wire in cases:
        assert pack(value) == wire, value
        if not isinstance(value, (tuple, Level, Name)):
            assert unpack(wire) == value and type(unpack(wire)) is type(value), value
    assert unpack(pack((1, [2, (3,)]))) == [1, [2, [3]]], "tuples come back as lists"


def test_what_comes_back_from_other_encoders() -> None:
    assert unpack(b"\xca" + struct.pack(">f", 0.5)) == 0.5  # float 32
    assert unpack(b"\xd4\x01\x07") == b"\x07"  # fixext 1: the data, as bytes
    assert unpack(b"\xc7\x02\x05ab") == b"ab"  # ext 8
    assert unpack(b"\xd0\x05") == 5  # a signed encoding of a positive number
    # A key Python cannot hash (a list) becomes its repr.
    assert unpack(b"\x81\x91\x01\x02") == {"[1]": 2}


def test_bad_values_and_bad_bytes_are_refused() -> None:
    for bad in (object(), 2**64, -(2**63) - 1, {1, 2}, 1j):
        with pytest.raises(TypeError):
            pack(bad)
    deep: list = []
    for _ in range(70):
        deep = [deep]
    with pytest.raises(TypeError, match="nested too deeply"):
        pack(deep)
    for wire, why in (
        (b"\xc1", "never used"),
        (b"\x92\x01", "truncated"),
        (b"\xdd\xff\xff\xff\xff", "truncated"),  # a count larger than the bytes left
        (b"\xa2\xff\xfe", "UTF-8"),
        (b"\x01\x02", "after the value"),
        (b"\x91" * 70 + b"\x00", "nested deeper"),
    ):
        with pytest.raises(InvalidArgumentError, match=why):
            unpack(wire)
