"""Regular expressions that state, in the OpenAPI document, the text rules the server enforces.

The server keeps enforcing each rule in Python (with messages that say why); these patterns only
put the same rule into the document, so that a client, or a generator of test requests, knows
which strings are valid before sending them. They avoid look-around assertions, which many
generators and some JSON Schema implementations do not support, and are written for Python's
`re`, ECMAScript's `u` mode and Rust's `regex` alike. They say nothing about lone surrogates
(JSON can spell "\\ud800", which is not Unicode text; the server refuses it everywhere): Rust's
`regex` cannot name surrogate code points, and a JSON Schema string is Unicode text anyway.
tests/dashboard/test_patterns.py checks each against the Python rule it describes.
"""

from __future__ import annotations

_CONTROL = r"\x00-\x1f\x7f"

#: free text stored in the database: no NUL character (PostgreSQL cannot store one)
TEXT = r"^[^\x00]*$"

#: the characters Python's str.strip() removes that are not control characters, as the
#: characters themselves: `\s` means another set in each engine (ECMAScript's leaves out U+0085
#: and takes in U+FEFF, which Python keeps)
_SPACE = " \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"

#: a run tag: single-line (no control characters), no leading or trailing whitespace
TAG = (
    rf"^[^{_SPACE}{_CONTROL}]"
    rf"(?:[^{_CONTROL}]*[^{_SPACE}{_CONTROL}])?$"
)

# A relative path (visionyard.paths.check_relative): components separated by '/', the first one
# not empty (no absolute path); no control character or backslash; no component
# that is '..', also when spelled with look-alike dots that NFKC folds to '..'; a component at
# most 255 UTF-8 bytes. A regular expression cannot weigh characters by their UTF-8 length, so
# the last rule is stated exactly for ASCII components (255 characters) and conservatively for
# the others (63 characters, at most 252 bytes): a path matching the pattern is always one the
# server accepts, and for ASCII paths the converse holds too.
_PATH_CHAR = rf"[^/\\{_CONTROL}]"
_ASCII_PATH_CHAR = r"[\x20-\x2e\x30-\x5b\x5d-\x7e]"
#: characters NFKC folds to '.', and single characters it folds to '..'
_DOTS = r".\u2024\ufe52\uff0e"
_TWO_DOTS = r"\u2025\ufe30"
_ONE_CHAR = rf"[^/\\{_CONTROL}{_TWO_DOTS}]"
_NOT_DOT = rf"[^/\\{_CONTROL}{_DOTS}]"
_COMPONENT = (
    rf"(?:{_ONE_CHAR}|{_NOT_DOT}{_PATH_CHAR}|[{_DOTS}]{_NOT_DOT}"
    rf"|{_ASCII_PATH_CHAR}{{3,255}}|{_PATH_CHAR}{{3,63}})"
)
#: (the length of the whole path, at most 1024 characters, is the schema's maxLength)
RELATIVE_PATH = rf"^(?:{_COMPONENT}(?:/{_COMPONENT}?)*)?$"
