"""The one rule for text that reaches a database, a file name or a log: no NUL, no lone surrogate.

Why exactly these two:

- NUL (U+0000): PostgreSQL's text types refuse it, and the operating system's path functions end
  a string there, so ``"x.png\\0/../../etc"`` would name one file to Python and another to the
  kernel.
- A lone surrogate (a code point in U+D800..U+DFFF; JSON's ``"\\ud800"`` decodes to one, and
  ``os.listdir`` makes them from bytes that are not UTF-8): UTF-8 cannot encode it, so neither
  database driver nor the file system can take it, and the JSON encoder fails on it.

Every other limit (control characters, whitespace, length, the characters of a name) belongs to
the field that holds the text and is stated where that field is validated. Imports nothing of
Visionyard, so the dashboard, the agent and the training core all use this one definition.
"""

from __future__ import annotations

NUL_PROBLEM = "must not contain NUL characters"
SURROGATE_PROBLEM = "must be valid Unicode text (it holds a lone surrogate escape)"


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored or used as a name (a phrase starting with "must"), or None."""
    if "\x00" in value:
        return NUL_PROBLEM
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        return SURROGATE_PROBLEM
    return None


def check_text(value: str) -> str:
    """`value` unchanged, or ValueError saying what is wrong (for pydantic validators)."""
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def printable(value: str) -> str:
    """`value` safe to serialise as JSON, with no surrogate left.

    Undecodable bytes that os.listdir kept as surrogate escapes come back as the bytes they
    were, each shown as U+FFFD; a lone surrogate that escapes no byte (from JSON input) becomes
    '?'. NUL is kept: JSON can carry it (see `storable` for text bound for a database).
    """
    try:
        raw = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that is no escaped byte
        raw = value.encode("utf-8", "replace")
    return raw.decode("utf-8", "replace")


def storable(value: str) -> str:
    """`value` safe for JSON and for both databases, and still readable: `printable`, with NUL
    shown as the two characters ``\\0``. For names read from disk, shown or stored as found."""
    return printable(value).replace("\x00", "\\0")
