"""visionyard.paths: the one containment rule (resolve every link, then the root or below it),
through resolve_under (paths settings and configs name), resolve_inside (paths a client sends)
and resolved_inside (paths found on disk), on real folders and real symbolic links."""

from __future__ import annotations

from pathlib import Path

import pytest

from visionyard.errors import ConfigError, PathOutsideRootError
from visionyard.paths import (
    MAX_NAME_BYTES,
    MAX_PATH_CHARS,
    SHELL_METACHARACTERS,
    check_relative,
    is_inside,
    relative_posix,
    resolve_inside,
    resolve_under,
    resolved_inside,
    resolved_or_none,
)

ENV = "VISIONYARD_MODELS_DIR"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A models root holding `model/`, next to `outside/` and the sibling `models-evil/`."""
    base = tmp_path / "models"
    (base / "model").mkdir(parents=True)
    (base / "org" / "name").mkdir(parents=True)
    (tmp_path / "outside" / "model").mkdir(parents=True)
    (tmp_path / "models-evil" / "model").mkdir(parents=True)
    (base / "link-out").symlink_to(tmp_path / "outside", target_is_directory=True)
    (base / "org" / "link-up").symlink_to("../..", target_is_directory=True)
    (base / "link-in").symlink_to(base / "model", target_is_directory=True)
    (base / "loop").symlink_to(base / "loop")
    return base


def under(path: str | Path, root: Path) -> Path:
    return resolve_under(path, root, what="model_flavour", env_name=ENV)


def test_paths_inside_resolve_to_absolute_real_paths(root: Path) -> None:
    model = root.resolve() / "model"
    for path in (
        "model",
        "./model",
        "model/",
        "org/../model",  # `..` that stays inside is only a detour
        "org/name/../../model",
        str(root / "model"),
        root / "model",
        "link-in",  # a link that stays inside resolves to its target
        str(root / "link-in"),
    ):
        assert under(path, root) == model, path
    # Existence is the caller's business; names a shell would mangle are the caller's too.
    assert under("not-there/yet", root) == root.resolve() / "not-there" / "yet"
    assert under("%2e%2e/x", root) == root.resolve() / "%2e%2e" / "x"  # never URL-decoded
    assert under("..\\x", root) == root.resolve() / "..\\x"  # a plain character on POSIX
    assert under(".", root) == root.resolve()
    assert under("a" * 300, root) == root.resolve() / ("a" * 300)  # too long a name for the disk


def test_a_relative_root_and_a_root_reached_through_a_link_work(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(root, target_is_directory=True)
    assert under("model", alias) == root.resolve() / "model"
    assert under(str(alias / "model"), root) == root.resolve() / "model"
    monkeypatch.chdir(tmp_path)
    assert under("model", Path("models")) == root.resolve() / "model"


TRAVERSAL = [
    "..",
    "../outside/model",
    "../models-evil/model",
    "model/../../outside",
    "org/name/../../../outside",
    "./../outside",
    "link-out",
    "link-out/model",
    "org/link-up",
    "org/link-up/outside/model",
    "/",
    "/etc",
    "/etc/passwd",
    "//etc",
    "/proc/self/root/etc",
]


@pytest.mark.parametrize("path", TRAVERSAL)
def test_anything_resolving_outside_is_refused_naming_the_setting(root: Path, path: str) -> None:
    with pytest.raises(PathOutsideRootError) as caught:
        under(path, root)
    message = str(caught.value)
    assert ENV in message and "model_flavour" in message and str(root.resolve()) in message
    assert str(root.parent / "outside") not in message  # where a link leads stays private


def test_absolute_paths_outside_and_the_sibling_prefix_are_refused(root: Path) -> None:
    # `<root>-evil` starts with the root's spelling: only a string-prefix check would admit it.
    for path in (
        root.parent / "outside" / "model",
        root.parent / "models-evil" / "model",
        Path(f"{root}-evil/model"),
        Path(f"{root}evil"),
        root.parent,
    ):
        with pytest.raises(PathOutsideRootError):
            under(path, root)
        with pytest.raises(PathOutsideRootError):
            under(str(path), root)


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("", "is empty"),
        ("model\x00", "NUL"),
        ("\x00", "NUL"),
        ("../outside\x00/x", "NUL"),
        ("\ud800", "surrogate"),
        ("model/\udc80", "surrogate"),
        ("a" * (MAX_PATH_CHARS + 1), f"longer than {MAX_PATH_CHARS}"),
        ("a/" * 600, f"longer than {MAX_PATH_CHARS}"),
        ("loop", "symbolic-link loop"),
        ("loop/inner", "symbolic-link loop"),
    ],
)
def test_unresolvable_paths_are_config_errors_naming_the_field(
    root: Path, path: str, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        under(path, root)
    assert words in str(caught.value) and "model_flavour" in str(caught.value)
    [field] = caught.value.fields
    assert field["field"] == "model_flavour" and words in field["message"]


def test_a_link_whose_target_is_too_long_is_refused(root: Path) -> None:
    # The given path is short; the path it resolves to is over the limit a column can store.
    deep = root
    while len(str(deep)) <= MAX_PATH_CHARS:
        deep = deep / ("d" * 200)
    deep.mkdir(parents=True)
    (root / "short").symlink_to(deep, target_is_directory=True)
    with pytest.raises(ConfigError, match="resolves to a path longer"):
        under("short", root)


def test_shell_metacharacters_pattern_covers_what_a_shell_or_url_interprets() -> None:
    for ch in " \t\n;&|`$<>(){}[]*?!'\"\\#%^,=~":
        assert SHELL_METACHARACTERS.search(f"org/na{ch}me"), repr(ch)
    for ok in ("google/vit-base-patch16-224", "/srv/models/tiny_resnet.v2", "a/b/c"):
        assert SHELL_METACHARACTERS.search(ok) is None


# ---- the rule underneath: resolved_inside / is_inside ------------------------------------------


def test_inside_means_resolved_root_or_below_it(root: Path) -> None:
    base = root.resolve()
    assert resolved_inside(base, base) == base  # the root itself is inside
    assert resolved_inside(base / "model", base) == base / "model"
    assert resolved_inside(base / "org" / ".." / "model", base) == base / "model"
    assert resolved_inside(base / "link-in", base) == base / "model"
    assert resolved_inside(base / "not-there" / "yet", base) == base / "not-there" / "yet"
    for outside in (
        base / "link-out",
        base / "org" / "link-up",
        base / ".." / "outside",
        base.parent / "models-evil" / "model",
        Path(f"{base}-evil"),
        base / "loop",  # resolves to nothing
        Path("/etc"),
    ):
        assert resolved_inside(outside, base) is None, outside
        assert not is_inside(outside, base), outside
    assert resolved_or_none(base / "loop") is None


# ---- paths a client sends: resolve_inside ------------------------------------------------------


def test_plain_relative_paths_resolve_inside(root: Path) -> None:
    base = root.resolve()
    assert resolve_inside(base, "") == base
    assert resolve_inside(base, ".") == base
    assert resolve_inside(base, "model") == base / "model"
    assert resolve_inside(base, "./org//name/") == base / "org" / "name"
    assert resolve_inside(base, "link-in") == base / "model"
    assert check_relative("org/./name/", what="path") == ["org", "name"]
    assert relative_posix(base, base / "org" / "name") == "org/name"
    assert relative_posix(base, base) == ""


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("model\x00", "NUL"),
        ("\ud800", "surrogate"),
        ("org\\name", "backslashes"),
        ("/etc", "absolute"),
        ("model/\x01", "control characters"),
        ("org/../model", "'..' segments"),  # refused by its spelling, even though it stays inside
        ("..", "'..' segments"),
        ("\uff0e\uff0e/outside", "'..' segments"),  # a look-alike folded by NFKC
        ("a" * (MAX_PATH_CHARS + 1), f"longer than {MAX_PATH_CHARS}"),
        ("x" * (MAX_NAME_BYTES + 1), f"longer than {MAX_NAME_BYTES} bytes"),
        ("link-out", "leads outside"),
        ("org/link-up", "leads outside"),
        ("loop", "symbolic-link loop"),
    ],
)
def test_client_paths_that_are_not_plain_or_lead_out_are_refused(
    root: Path, value: str, words: str
) -> None:
    with pytest.raises(PathOutsideRootError) as caught:
        resolve_inside(root.resolve(), value, what="browse path")
    message = str(caught.value)
    assert words in message and "browse path" in message
    assert "\x00" not in message  # the message is storable and printable text
    assert str(root.parent / "outside") not in message
