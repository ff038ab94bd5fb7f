"""The design documents stay true to the code: docs/reliability.md lists every reliability (R) and
security (S) promise the tests cite, with tests that exist; docs/architecture.md names modules,
files and tests that exist. Pure text and `ast`: nothing here imports the package.

What counts as citing an id (in any .py file under tests/):

- a word-bounded `R<n>` or `S<n>` (n = 1 or 2 digits) anywhere in the text: in prose, comments,
  docstrings and parametrize ids; a range such as `R<a>-R<b>` (or with an en dash) cites every
  id from a to b;
- a test function named `test_r<n>_...` or `test_s<n>_...`.

Word boundaries keep identifiers that merely contain such a pair out (see the first test).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from pydantic import AliasChoices
from pydantic_settings import BaseSettings
from typer.testing import CliRunner

import visionyard.dashboard.events as events_protocol
from visionyard.agent.options import AgentOptions
from visionyard.cli import app as cli_app
from visionyard.dashboard.events.store import LIVE_RUN_EVENT_KINDS
from visionyard.settings import Settings

REPO = Path(__file__).resolve().parent.parent
SRC = REPO / "src"
RELIABILITY = REPO / "docs" / "reliability.md"
ARCHITECTURE = REPO / "docs" / "architecture.md"
SERIES = [f"R{n}" for n in range(1, 16)] + [f"S{n}" for n in range(1, 16)]

ID = re.compile(r"\b([RS])(\d{1,2})\b")
RANGE = re.compile(r"\b([RS])(\d{1,2})\s*[-–]\s*\1?(\d{1,2})\b")
TEST_NAME_ID = re.compile(r"^test_([rs])(\d{1,2})_")
#: a row of the promise tables: "| R6 | ... |"
ROW = re.compile(r"^\|\s*([RS]\d{1,2})\s*\|(.*)$", re.MULTILINE)
#: a reference to a test (or any function) in a test file: tests/x/test_y.py::name[::name]
TEST_REF = re.compile(r"\b(tests/[\w/]+\.py)::(\w+)(?:::(\w+))?")
#: the old, never-committed documents at the repository root
ROOT_DOCS = re.compile(r"(ARCHITECTURE|RELIABILITY)\.md")


def _ids_in(text: str) -> set[str]:
    found = {f"{letter}{int(num)}" for letter, num in ID.findall(text)}
    for letter, start, end in RANGE.findall(text):
        found |= {f"{letter}{n}" for n in range(int(start), int(end) + 1)}
    return found


def _test_files() -> list[Path]:
    return sorted((REPO / "tests").rglob("*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _functions(tree: ast.Module) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """(qualified name, node) of module-level functions and methods of module-level classes."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node.name, node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    yield f"{node.name}::{item.name}", item


def _rows() -> dict[str, str]:
    """id -> the rest of its table row in docs/reliability.md."""
    rows: dict[str, str] = {}
    for ident, rest in ROW.findall(RELIABILITY.read_text(encoding="utf-8")):
        assert ident not in rows, f"docs/reliability.md has two rows for {ident}"
        rows[ident] = rest
    return rows


def _refs(text: str) -> set[tuple[str, str]]:
    """(file, qualified name) of every tests/...py::name reference in `text`."""
    return {
        (file, f"{first}::{second}" if second else first)
        for file, first, second in TEST_REF.findall(text)
    }


def test_the_citation_pattern_has_no_false_positives() -> None:
    assert _ids_in("R6-R9, R12 and S1 (R15); R1-postgresql-8-processes; S2–S3") == {
        "R6", "R7", "R8", "R9", "R12", "S1", "R15", "R1", "S2", "S3",
    }  # fmt: skip
    assert _ids_in("BS1 R2D2 sha_R1x xS5 R123 S1.5") == {"S1"}
    assert TEST_NAME_ID.match("test_r12_cancel_queued") and not TEST_NAME_ID.match("test_rank_0")


def test_the_series_is_complete_and_in_order() -> None:
    assert list(_rows()) == SERIES


def test_every_id_cited_in_the_tests_has_a_row() -> None:
    rows = _rows()
    missing: dict[str, list[str]] = {}
    for path in _test_files():
        cited = _ids_in(path.read_text(encoding="utf-8"))
        for name, _node in _functions(_tree(path)):
            match = TEST_NAME_ID.match(name)
            if match:
                cited.add(f"{match.group(1).upper()}{int(match.group(2))}")
        for ident in cited - rows.keys():
            missing.setdefault(ident, []).append(_rel(path))
    assert not missing, f"ids cited in tests but not in docs/reliability.md: {missing}"


def test_tests_that_claim_an_id_are_listed_under_it() -> None:
    """A test named test_r<n>_... or citing ids in its docstring is listed in their rows; a test
    module citing ids in its docstring has at least one of its tests in each of their rows.
    Helper modules and functions (not named test_*) may explain ids without proving them."""
    rows = {ident: _refs(rest) for ident, rest in _rows().items()}
    problems = []
    for path in _test_files():
        if not path.name.startswith("test_"):
            continue  # helpers (workers, fixtures) explain ids; they prove none
        file = _rel(path)
        tree = _tree(path)
        for ident in _ids_in(ast.get_docstring(tree) or ""):
            if not any(ref_file == file for ref_file, _ in rows.get(ident, ())):
                problems.append(f"{file} (module docstring) cites {ident}; no test of it is listed")
        for name, node in _functions(tree):
            if not node.name.startswith("test_"):
                continue
            claimed = _ids_in(ast.get_docstring(node) or "")
            match = TEST_NAME_ID.match(node.name)
            if match:
                claimed.add(f"{match.group(1).upper()}{int(match.group(2))}")
            for ident in claimed:
                if (file, name) not in rows.get(ident, ()):
                    problems.append(f"{file}::{name} claims {ident} but is not listed under it")
    assert not problems, "\n".join(problems)


def test_every_test_named_in_the_docs_exists() -> None:
    missing = []
    for doc in (RELIABILITY, ARCHITECTURE):
        for file, name in sorted(_refs(doc.read_text(encoding="utf-8"))):
            path = REPO / file
            if not path.is_file():
                missing.append(f"{_rel(doc)}: {file} does not exist")
            elif name not in dict(_functions(_tree(path))):
                missing.append(f"{_rel(doc)}: {file} defines no {name}")
    assert not missing, "\n".join(missing)


def test_every_row_names_a_test_or_says_it_has_none() -> None:
    for ident, rest in _rows().items():
        assert _refs(rest) or "no test" in rest.lower(), f"{ident}: name its tests or say 'no test'"


def _module_file(dotted: str) -> Path | None:
    base = SRC.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _defines(module: Path, name: str) -> bool:
    text = module.read_text(encoding="utf-8")
    return bool(
        re.search(rf"^\s*(async\s+def|def|class)\s+{name}\b|^\s*{name}\s*[:=]", text, re.MULTILINE)
        or re.search(rf"^\s*(from\s+\S+\s+)?import\s+[^\n]*\b{name}\b", text, re.MULTILINE)
        or re.search(rf"^\s+{name},$", text, re.MULTILINE)  # a parenthesised import list
    )


def test_modules_and_files_named_in_the_architecture_exist() -> None:
    """`visionyard.x.y` must be a module, or a module and a name it defines or imports;
    `src/...`, `tests/...`, `docs/...` and `bench/...` paths in backticks must exist."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    problems = []
    for dotted in sorted(set(re.findall(r"`(visionyard(?:\.\w+)*)`", text))):
        if _module_file(dotted):
            continue
        parent, _, name = dotted.rpartition(".")
        module = _module_file(parent)
        if module is None or not _defines(module, name):
            problems.append(dotted)
    for rel in sorted(set(re.findall(r"`((?:src|tests|docs|bench)/[^`\s:]+)`", text))):
        if not (REPO / rel.rstrip("/")).exists():
            problems.append(rel)
    assert not problems, f"docs/architecture.md names what does not exist: {problems}"


def test_no_file_cites_the_old_root_documents() -> None:
    cited = []
    for top in ("src", "tests", "bench", "docs"):
        for path in sorted((REPO / top).rglob("*")):
            if path.suffix in (".py", ".md", ".sh", ".toml", ".txt", ".cfg") and path.is_file():
                for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                    if ROOT_DOCS.search(line):
                        cited.append(f"{_rel(path)}:{number}: {line.strip()}")
    for name in ("README.md", "main.py", "experiments.py", "Makefile", "pyproject.toml"):
        path = REPO / name
        if path.is_file() and ROOT_DOCS.search(path.read_text(encoding="utf-8")):
            cited.append(name)
    assert not cited, "cite docs/architecture.md or docs/reliability.md instead:\n" + "\n".join(
        cited
    )


def test_the_training_core_imports_no_service_layer() -> None:
    """docs/architecture.md: the training core never imports the dashboard, the database, the
    run queue or the agents (it learns about its agent only through files and environment)."""
    forbidden = re.compile(
        r"^\s*(from|import)\s+visionyard\.(dashboard|db|runqueue|agent|up)\b", re.MULTILINE
    )
    offenders = [
        _rel(path)
        for path in sorted((SRC / "visionyard" / "training").rglob("*.py"))
        if forbidden.search(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, offenders


def test_the_websocket_protocol_documents_every_run_event_kind() -> None:
    """The protocol text in visionyard.dashboard.events lists each kind a `run:<id>` event can
    have, and no other: the kinds are what clients switch on."""
    doc = events_protocol.__doc__ or ""
    documented = re.findall(r'^ {10}"(\w+)" {2,}', doc, flags=re.MULTILINE)
    assert sorted(documented) == sorted(LIVE_RUN_EVENT_KINDS)


def _env_names(settings_class: type[BaseSettings]) -> dict[str, str]:
    """environment variable -> field name, for every field of a settings class."""
    prefix = str(settings_class.model_config.get("env_prefix", ""))
    names: dict[str, str] = {}
    for field_name, field in settings_class.model_fields.items():
        names[f"{prefix}{field_name}".upper()] = field_name
        alias = field.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
        names.update({str(choice): field_name for choice in choices if isinstance(choice, str)})
    return names


def test_every_setting_the_readme_documents_is_read_and_used() -> None:
    """A setting in the README's environment tables is read by the settings classes and used
    somewhere else in the code: documenting one that does nothing yet (a knob for a feature
    still to come) sends users looking for behaviour that is not there."""
    readme = (REPO / "README.md").read_text()
    documented = {
        name
        for row in re.findall(r"^\| (`[^|]*`) \|", readme, flags=re.MULTILINE)
        for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row)
    }
    assert {"DASHBOARD_DB_URL", "GPU_INDEX", "VISIONYARD_LEASE_SECONDS"} <= documented
    # An attribute read (`settings.lease_seconds`, `self.db_url` in a derived property):
    # a field's definition is spelled `name: type`, so it does not count.
    code = {path: path.read_text() for path in SRC.rglob("*.py")}
    for settings_class in (Settings, AgentOptions):
        env = _env_names(settings_class)
        for name in sorted(documented & set(env)):
            field = env[name]
            users = [p for p, text in code.items() if re.search(rf"\.{field}\b", text)]
            owner = f"{settings_class.__name__}.{field}"
            assert users, f"README documents {name}, but nothing uses {owner}"
    unknown = documented - set(_env_names(Settings)) - set(_env_names(AgentOptions))
    assert not unknown, f"README documents settings that nothing reads: {sorted(unknown)}"


def test_the_readme_and_the_demo_command_state_the_same_training_time() -> None:
    claim = re.compile(r"about (\d+) s\b")
    readme = " ".join((REPO / "README.md").read_text().split())
    help_text = " ".join(CliRunner().invoke(cli_app, ["demo", "--help"]).output.split())
    assert claim.findall(help_text), help_text
    assert set(claim.findall(help_text)) <= set(claim.findall(readme))
