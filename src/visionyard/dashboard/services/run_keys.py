"""What run lists sort and filter by: the key grammar, parsed and checked (no SQL here; the
SQL for each key is `visionyard.dashboard.repositories.run_keys`).

Keys:

- run fields: ``created_at``, ``priority``, ``name``;
- summary fields: ``duration`` (seconds of wall time since the first start), ``epochs_done``,
  ``best`` and ``last`` (the run's own monitored metric: best by its monitor mode, and the
  value at its last step);
- any metric: ``best:<metric>`` (by the metric's direction: lower loss, higher accuracy...),
  ``last:<metric>``, ``min:<metric>``, ``max:<metric>``, e.g. ``best:val/acc@1``;
- any scalar config field: ``param:<field>``, e.g. ``param:lr``, ``param:optimizer``.

A filter is ``<key><op><value>`` with op one of ``>= <= > < = !=``: numbers for numeric keys,
``true``/``false`` for switches (``=``/``!=``), text for text keys (``=``/``!=``), e.g.
``best:val/acc@1>=0.9``, ``param:optimizer=sgd``, ``duration<600``. Runs without the value
(a metric they never logged) sort last in either order and never match a filter.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

from visionyard.runqueue.events import STEP_LOSS_METRIC
from visionyard.training.config import TrainConfig
from visionyard.training.metric_registry import METRICS, Direction, metric_for

ValueType = Literal["number", "text", "bool", "time"]
Stat = Literal["best", "last", "min", "max"]
Op = Literal[">=", "<=", ">", "<", "=", "!="]

RUN_FIELDS: dict[str, ValueType] = {"created_at": "time", "priority": "number", "name": "text"}
SUMMARY_FIELDS: dict[str, ValueType] = {
    "duration": "number",
    "epochs_done": "number",
    "best": "number",
    "last": "number",
}
STATS: tuple[Stat, ...] = ("best", "last", "min", "max")
PARAM_PREFIX = "param:"
#: the metric a config monitors when its snapshot does not say (the TrainConfig default)
DEFAULT_MONITOR = str(TrainConfig.model_fields["monitor_metric"].default)
#: the split the trainer evaluates its monitored metric on, as stored ("val/acc@1")
MONITOR_SPLIT = "val/"
#: the splits whose scalars are the metric registry's ("val/acc@1")
REGISTRY_SPLITS = ("train", "val", "test")
METRIC_NAME = re.compile(r"[A-Za-z0-9_.@/-]{1,128}")
_FILTER = re.compile(r"(?P<key>[^<>=!]+?)(?P<op>>=|<=|!=|=|>|<)(?P<value>.*)", re.DOTALL)
_ORDERED_OPS = frozenset({">=", "<=", ">", "<"})

ACCEPTED_KEYS = (
    "created_at, priority, name, duration, epochs_done, best, last (the run's monitored metric), "
    "best:<metric>, last:<metric>, min:<metric>, max:<metric> (e.g. best:val/acc@1), "
    "param:<config field> (e.g. param:lr)"
)
ACCEPTED_FILTER = (
    "<key><op><value> with op one of >= <= > < = != (e.g. best:val/acc@1>=0.9, "
    "param:optimizer=sgd, duration<600)"
)


@dataclass(frozen=True)
class RunKey:
    """One sortable/filterable value of a run."""

    kind: Literal["run", "summary", "metric", "param"]
    name: str  # the run column, summary field, metric name or config field
    value_type: ValueType
    stat: Stat | None = None  # metrics: which statistic
    direction: Direction | None = None  # metrics with stat "best": which way is better


@dataclass(frozen=True)
class RunFilter:
    key: RunKey
    op: Op
    value: float | str | bool


def metric_direction(name: str) -> Direction | None:
    """Which way is better for a stored metric name, if known: the registry's direction for
    "<train|val|test>/<registered metric>", "min" for the step loss; None otherwise (the
    learning rate, system samples)."""
    if name == STEP_LOSS_METRIC:
        return "min"
    split, _, scalar = name.partition("/")
    spec = metric_for(scalar) if split in REGISTRY_SPLITS else None
    return spec.direction if spec is not None else None


def _scalar_type(annotation: Any) -> ValueType | None:
    """The value type of a config field, or None when it is not one scalar (lists, mixed)."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        kinds = {_scalar_type(a) for a in args}
        return kinds.pop() if len(kinds) == 1 else None
    if origin is Literal:
        return "text" if all(isinstance(a, str) for a in get_args(annotation)) else None
    if annotation is bool:
        return "bool"
    if annotation in (int, float):
        return "number"
    if annotation is str:
        return "text"
    return None


#: config fields one can sort and filter by, and their value type
PARAM_TYPES: dict[str, ValueType] = {
    name: kind
    for name, field in TrainConfig.model_fields.items()
    if (kind := _scalar_type(field.annotation)) is not None
}


# ---- the same grammar as regular expressions, for the OpenAPI document ---------------------------
# The parsers below accept a string only if it matches these (and each match parses), so the
# document states exactly what the server accepts. Written for Python's `re`, ECMAScript and
# Rust's `regex` alike (no look-around, no escapes of ordinary characters).

_METRIC = "[A-Za-z0-9_.@/-]{1,128}"
_NUMBER = "[+-]?(?:[0-9]+(?:[.][0-9]*)?|[.][0-9]+)(?:[eE][+-]?[0-9]+)?"
_TEXT = "[^\\x00]{1,200}"


def _registry_scalar(name: str) -> str:
    if not re.fullmatch("[A-Za-z0-9_@]+", name):
        raise AssertionError(f"metric {name!r} needs escaping in the key pattern")
    # K up to 9 digits: the name stays within the 128 characters of a metric name.
    return name.replace("@K", "@[1-9][0-9]{0,8}") if name.endswith("@K") else name


def _alternatives(names: Iterable[str]) -> str:
    return "(?:" + "|".join(names) + ")"


_BEST_METRIC = _alternatives(
    [
        STEP_LOSS_METRIC,
        _alternatives(REGISTRY_SPLITS)
        + "/"
        + _alternatives(_registry_scalar(spec.name) for spec in METRICS),
    ]
)
_METRIC_KEY = f"(?:best:{_BEST_METRIC}|(?:last|min|max):{_METRIC})"


def _params(kind: ValueType) -> str:
    return "param:" + _alternatives(sorted(n for n, t in PARAM_TYPES.items() if t == kind))


_NUMBER_KEY = _alternatives(
    [
        *(n for n, t in {**RUN_FIELDS, **SUMMARY_FIELDS}.items() if t == "number"),
        _METRIC_KEY,
        _params("number"),
    ]
)
_TEXT_KEY = _alternatives(["name", _params("text")])
_BOOL_KEY = _params("bool")
#: every key `parse_key` accepts
KEY_PATTERN = (
    "^"
    + _alternatives(
        [
            *RUN_FIELDS,
            *SUMMARY_FIELDS,
            _METRIC_KEY,
            _params("number"),
            _params("text"),
            _params("bool"),
        ]
    )
    + "$"
)
#: every filter `parse_filter` accepts
FILTER_PATTERN = (
    "^"
    + _alternatives(
        [
            f"{_NUMBER_KEY}(?:>=|<=|!=|=|>|<){_NUMBER}",
            f"{_TEXT_KEY}(?:!=|=){_TEXT}",
            f"{_BOOL_KEY}(?:!=|=)(?:true|false)",
        ]
    )
    + "$"
)
_KEY_RE = re.compile(KEY_PATTERN)
_FILTER_RE = re.compile(FILTER_PATTERN, re.DOTALL)


def parse_key(text: str) -> RunKey:
    """A key of the grammar above; ValueError naming what is wrong and what is accepted."""
    key = _diagnosed_key(text)
    if not _KEY_RE.fullmatch(text):
        raise ValueError(f"unknown key {text!r}; accepted: {ACCEPTED_KEYS}")
    return key


def _diagnosed_key(text: str) -> RunKey:
    """A key of the grammar above; ValueError naming what is wrong and what is accepted."""
    if text in RUN_FIELDS:
        return RunKey("run", text, RUN_FIELDS[text])
    if text in SUMMARY_FIELDS:
        return RunKey("summary", text, SUMMARY_FIELDS[text])
    if text.startswith("-"):
        raise ValueError(
            f"{text!r}: give the direction with order=asc|desc, not a '-' prefix "
            f"(sort={text[1:]}&order=desc)"
        )
    prefix, sep, rest = text.partition(":")
    if sep and prefix == PARAM_PREFIX[:-1]:
        if rest not in PARAM_TYPES:
            raise ValueError(
                f"{text!r}: {rest!r} is not a scalar config field; use one of "
                f"{', '.join(sorted(PARAM_TYPES))}"
            )
        return RunKey("param", rest, PARAM_TYPES[rest])
    if sep and prefix in STATS:
        if not METRIC_NAME.fullmatch(rest):
            raise ValueError(
                f"{text!r}: {rest!r} is not a metric name (letters, digits and _ . @ / -, at "
                "most 128; e.g. val/acc@1); GET /runs/{id}/metrics lists a run's metrics"
            )
        direction = metric_direction(rest)
        if prefix == "best" and direction is None:
            raise ValueError(
                f"{text!r}: which way is better is not known for {rest!r}; use "
                f"min:{rest} or max:{rest}"
            )
        stat = next(s for s in STATS if s == prefix)
        return RunKey("metric", rest, "number", stat=stat, direction=direction)
    raise ValueError(f"unknown key {text!r}; accepted: {ACCEPTED_KEYS}")


def parse_filter(text: str) -> RunFilter:
    """A filter `<key><op><value>`; ValueError naming what is wrong and what is accepted."""
    run_filter = _diagnosed_filter(text)
    if not _FILTER_RE.fullmatch(text):
        raise ValueError(f"{text!r} is not a filter; write {ACCEPTED_FILTER}")
    return run_filter


def _diagnosed_filter(text: str) -> RunFilter:
    match = _FILTER.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a filter; write {ACCEPTED_FILTER}")
    key = parse_key(match["key"])
    op: Op = match["op"]  # type: ignore[assignment]  # the pattern allows only these
    raw = match["value"]
    if key.value_type == "time":
        raise ValueError(
            f"{text!r}: {key.name} sorts runs but does not filter them; filter by another key: "
            f"{ACCEPTED_KEYS}"
        )
    if key.value_type == "number":
        if not re.fullmatch(_NUMBER, raw):
            raise ValueError(
                f"{text!r}: {match['key']} compares with a number (like 0.9, 10, 1e-3), not {raw!r}"
            )
        return RunFilter(key, op, float(raw))  # an overflow is infinity, which compares fine
    if op in _ORDERED_OPS:
        raise ValueError(f"{text!r}: {match['key']} takes = or != (it is not a number)")
    if key.value_type == "bool":
        if raw not in ("true", "false"):
            raise ValueError(f"{text!r}: {match['key']} is true or false, not {raw!r}")
        return RunFilter(key, op, raw == "true")
    if not re.fullmatch(_TEXT, raw):
        raise ValueError(
            f"{text!r}: give the text to compare {match['key']} with (1 to 200 characters, no NUL)"
        )
    return RunFilter(key, op, raw)


def checked_key(text: str) -> str:
    """The query parameter's validator: `text` unchanged if it parses."""
    parse_key(text)
    return text


def checked_filter(text: str) -> str:
    parse_filter(text)
    return text
