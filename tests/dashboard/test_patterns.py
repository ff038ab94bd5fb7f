"""Each pattern the OpenAPI document states (`dashboard/patterns.py`) against the Python rule the
server enforces: a string the pattern accepts is one the server accepts, and (for the cases the
pattern can state exactly) the other way round."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from visionyard.dashboard import patterns
from visionyard.dashboard.schemas.runs import _plain_tag
from visionyard.errors import PathOutsideRootError
from visionyard.paths import check_relative
from visionyard.text import check_text

MAX_PATH = 1024  # the schema's maxLength for paths
CHECK = settings(
    max_examples=1000, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
#: characters each rule treats specially, mixed with anything
TRICKY = list("a0./\\ -\x00\x01\x1f\x7f\x85\u00a0\u2003\u2024\u2025\ufe30\ufe52\uff0eé😀")


def accepts(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value) is not None


def valid(check, value: str) -> bool:  # noqa: ANN001 - a validator or check_relative
    try:
        check(value)
    except (ValueError, PathOutsideRootError):
        return False
    return True


def no_surrogates(value: str) -> bool:
    # The patterns say nothing about lone surrogates (see the module); the server refuses them.
    return not any(0xD800 <= ord(ch) <= 0xDFFF for ch in value)


texts = (st.text(st.sampled_from(TRICKY), max_size=12) | st.text(max_size=60)).filter(no_surrogates)
paths = (
    texts
    | st.text(max_size=300).filter(no_surrogates)
    | st.builds(
        lambda part, n: part * n, st.sampled_from(["a", "é", "ab/", "é/"]), st.integers(0, 400)
    )
)


@CHECK
@given(texts)
def test_text_pattern_is_the_no_nul_rule(value: str) -> None:
    assert accepts(patterns.TEXT, value) == valid(check_text, value)


@CHECK
@given(texts.filter(bool))
def test_tag_pattern_is_the_tag_rule(value: str) -> None:
    assert accepts(patterns.TAG, value) == valid(_plain_tag, value)


@CHECK
@given(paths.filter(lambda p: len(p) <= MAX_PATH))
def test_relative_path_pattern_never_admits_a_refused_path(value: str) -> None:
    matched = accepts(patterns.RELATIVE_PATH, value)
    allowed = valid(lambda v: check_relative(v, what="path"), value)
    if matched:
        assert allowed, value
    if value.isascii():
        assert matched == allowed, value


def test_relative_path_pattern_examples() -> None:
    for good in ["", ".", "a", "cats/train", "a//b/", "./x", "..a", "a..", "...", "x" * 255]:
        assert accepts(patterns.RELATIVE_PATH, good), good
    for bad in [
        "/etc",
        "..",
        "a/../b",
        "a\\b",
        "a\x00",
        "a\nb",
        "\uff0e\uff0e",
        "\u2025",
        "x" * 256,
    ]:
        assert not accepts(patterns.RELATIVE_PATH, bad), bad


#: what each class shorthand means differs between the engines the patterns are written for:
#: ECMAScript's \s leaves out U+0085 (which Python's str.strip() removes) and takes in U+FEFF
#: (which it keeps), so a generator following the document sent tags the server refused
SHORTHANDS = ("\\s", "\\S", "\\w", "\\W", "\\d", "\\D", "\\b")


def test_patterns_spell_their_classes_out() -> None:
    for name in dir(patterns):
        value = getattr(patterns, name)
        if name.isupper() and isinstance(value, str):
            assert not [s for s in SHORTHANDS if s in value], (name, value)


def test_tag_pattern_agrees_with_python_on_every_space_character() -> None:
    for code in [*range(0x80, 0xA1), 0x1680, *range(0x2000, 0x2030), 0x205F, 0x3000, 0xFEFF]:
        char = chr(code)
        for value in (char, f"a{char}", f"{char}a", f"a{char}a"):
            assert accepts(patterns.TAG, value) == valid(_plain_tag, value), repr(value)
