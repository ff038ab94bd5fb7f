"""visionyard.text: the one NUL / lone-surrogate rule, and the safe spellings for output."""

from __future__ import annotations

import json

import pytest

from visionyard.text import (
    NUL_PROBLEM,
    SURROGATE_PROBLEM,
    check_text,
    printable,
    storable,
    text_problem,
)

ACCEPTED = ["", "plain", "tab\there", "new\nline", "caf\u00e9", "\U0001f600", "\uffff", "\ue000"]


@pytest.mark.parametrize("value", ACCEPTED)
def test_text_every_database_and_file_system_can_take_is_accepted(value: str) -> None:
    assert text_problem(value) is None
    assert check_text(value) is value
    value.encode("utf-8")  # the rule's reason: it encodes


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("\x00", NUL_PROBLEM),
        ("a\x00b", NUL_PROBLEM),
        ("\x00\ud800", NUL_PROBLEM),  # NUL is reported first
        ("\ud800", SURROGATE_PROBLEM),
        ("x\udfff", SURROGATE_PROBLEM),
        ("\udc80", SURROGATE_PROBLEM),  # what os.listdir makes of the byte 0x80
        ("\ud83d\ude00", SURROGATE_PROBLEM),  # a pair spelled as two code points: not UTF-8 either
    ],
)
def test_nul_and_lone_surrogates_are_refused_with_one_reason_each(value: str, problem: str) -> None:
    assert text_problem(value) == problem
    with pytest.raises(ValueError, match=problem.split(" (")[0]):
        check_text(value)


def test_the_surrogate_rule_is_exactly_what_utf8_cannot_encode() -> None:
    for code in (0xD7FF, 0xD800, 0xDBFF, 0xDC00, 0xDFFF, 0xE000):
        value = chr(code)
        try:
            value.encode("utf-8")
            encodes = True
        except UnicodeEncodeError:
            encodes = False
        assert (text_problem(value) is None) == encodes, hex(code)


def test_printable_turns_undecodable_names_into_replacement_characters() -> None:
    listed = b"caf\xe9.png".decode("utf-8", "surrogateescape")  # a Latin-1 name on disk
    assert printable(listed) == "caf\ufffd.png"
    assert printable("\ud800x") == "?x"  # a lone surrogate that escapes no byte
    assert printable("ok\x00") == "ok\x00"  # JSON can carry NUL
    for value in (listed, "\ud800x", "plain"):
        json.dumps(printable(value)).encode("utf-8")


def test_storable_also_spells_nul_so_both_databases_take_it() -> None:
    assert storable("a\x00b") == "a\\0b"
    assert text_problem(storable("a\x00b\udc80")) is None
