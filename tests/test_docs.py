"""The repository documents itself: ``docs/`` builds strictly, and nothing points outside it.

The site is built with the real MkDocs, Material theme and mkdocstrings, in strict mode, into a
temporary directory, offline (no plugin fetches anything). A broken link or anchor, a page left out
of the navigation, a cross-reference to an object that is not there, or a docstring mkdocstrings
cannot read fails the build, and so the test run. Tiny builds with the same configuration prove
that those checks are on: each must fail on its kind of mistake.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PUBLIC_MODULES = (
    "errors", "contract", "config", "files", "client", "events", "tracker", "runs", "session",
    "analysis", "workbench", "widgets", "server",
)  # fmt: skip
# Spelt in pieces, so that this file does not name what it looks for.
OLD_CONTRACT_PLACES = ("../" + "shared", "shared" + "/story-api.md")


def _mkdocs(*args: str) -> subprocess.CompletedProcess[str]:
    """``mkdocs`` of this interpreter's environment, offline and without Material's banner."""
    beside = Path(sys.executable).parent / "mkdocs"
    command = [str(beside)] if beside.exists() else [sys.executable, "-m", "mkdocs"]
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [*command, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The documentation, built with ``mkdocs build --strict`` into a temporary directory."""
    target = tmp_path_factory.mktemp("site")
    result = _mkdocs("build", "--strict", "--site-dir", str(target))
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}{result.stderr}"
    return target


def test_the_site_builds_strictly_with_every_page(site: Path) -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert config["strict"] is True
    for source in DOCS.rglob("*.md"):
        page = source.relative_to(DOCS).with_suffix("")
        folder = page.parent if page.name == "index" else page
        assert (site / folder / "index.html").is_file(), f"docs/{page}.md was not built"


def _anchors(site: Path) -> set[str]:
    found: set[str] = set()
    for page in (site / "reference").rglob("index.html"):
        found |= set(re.findall(r'id="(batchkit(?:\.\w+)+)"', page.read_text(encoding="utf-8")))
    return found


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_every_export_of_a_public_module_is_in_the_api_reference(site: Path, module: str) -> None:
    exported = importlib.import_module(f"batchkit.{module}").__all__
    anchors = _anchors(site)
    missing = [
        name
        for name in exported
        # A function named like its own submodule is documented from that submodule.
        if not {f"batchkit.{module}.{name}", f"batchkit.{module}.{name}.{name}"} & anchors
    ]
    assert not missing, f"batchkit.{module} exports {missing}, absent from the API reference"


def test_docstring_roles_are_rendered_not_shown_raw(site: Path) -> None:
    raw = [
        page.relative_to(site).as_posix()
        for page in site.rglob("*.html")
        if re.search(r":(class|func|meth|mod|data|attr|exc|obj):<code>", page.read_text("utf-8"))
    ]
    assert not raw, f"Sphinx roles left as text in {raw}"


_SAMPLE_MODULE = '''
def greet(name: str) -> str:
    """Say hello.

    Args:
        PARAMETER: who to greet.
    """
    return name
'''

MISTAKES = {
    "broken-links": (
        "[a page that is not there](missing.md)\n\n[an anchor that is not there](#nowhere)\n",
        ("missing.md", "#nowhere"),
    ),
    "unknown-reference": (
        "[an object that is not there][batchkit.client.NoSuchThing]\n",
        ("Could not find cross-reference target 'batchkit.client.NoSuchThing'",),
    ),
    "unknown-object": (
        "::: batchkit.no_such_module\n",
        ("Could not collect 'batchkit.no_such_module'",),
    ),
    "bad-docstring": (
        "::: sample_module.greet\n",
        ("Parameter 'nam' does not appear in the function signature",),
    ),
    "page-outside-the-nav": ("", ("forgotten.md",)),
}
CORRECT_PAGE = "[greet][sample_module.greet], [a heading](#mistakes)\n\n::: sample_module.greet\n"


def _tiny_site(
    tmp_path: Path, page: str, *, forgotten: bool = False, parameter: str = "name"
) -> subprocess.CompletedProcess[str]:
    """Build a one-page site with the real configuration, documenting a module whose docstring
    names ``parameter`` (and, if asked, with a page left out of the navigation)."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text(f"# Mistakes\n\n{page}", encoding="utf-8")
    if forgotten:
        (docs / "forgotten.md").write_text("# Not in the navigation\n", encoding="utf-8")
    (tmp_path / "sample_module.py").write_text(
        _SAMPLE_MODULE.replace("PARAMETER", parameter), encoding="utf-8"
    )
    python = config["plugins"][1]["mkdocstrings"]["handlers"]["python"]
    python["paths"] = [str(ROOT), str(tmp_path)]
    config |= {
        "docs_dir": str(docs),
        "site_dir": str(tmp_path / "site"),
        "nav": [{"Mistakes": "index.md"}],
        "hooks": [str(ROOT / hook) for hook in config["hooks"]],
    }
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return _mkdocs("build", "--strict", "--config-file", str(tmp_path / "mkdocs.yml"))


def test_the_tiny_site_builds_when_nothing_is_wrong(tmp_path: Path) -> None:
    """The control for the next test: its failures come from the mistakes, not the set-up."""
    result = _tiny_site(tmp_path, CORRECT_PAGE)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("kind", list(MISTAKES))
def test_the_strict_build_fails_on_each_kind_of_mistake(tmp_path: Path, kind: str) -> None:
    """One kind of mistake per site (an object mkdocstrings cannot find stops a build at once)."""
    page, reported = MISTAKES[kind]
    result = _tiny_site(
        tmp_path,
        page,
        forgotten=kind == "page-outside-the-nav",
        parameter="nam" if kind == "bad-docstring" else "name",  # misspelt: no such parameter
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for mistake in reported:
        assert mistake in output, f"the build did not report {mistake}:\n{output}"


# ---------------------------------------------------------------- the repository points into docs/
def _project_files() -> Iterator[Path]:
    """Every file of the project: tracked, or new and not ignored."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    for name in filter(None, listed.split("\0")):
        path = ROOT / name
        if path.is_file():
            yield path


def test_nothing_in_the_project_refers_to_the_old_shared_contract() -> None:
    offenders = []
    for path in _project_files():
        with contextlib.suppress(UnicodeDecodeError):
            text = path.read_text(encoding="utf-8")
            found = [place for place in OLD_CONTRACT_PLACES if place in text]
            offenders += [f"{path.relative_to(ROOT)}: {place}" for place in found]
    assert not offenders, f"the contract lives in docs/contract/ now: {offenders}"


def test_the_readme_links_into_docs_and_every_link_resolves() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\((docs/[^)#\s]+)(?:#[^)\s]*)?\)", readme)
    assert any(t.startswith("docs/contract/") for t in targets), "README must link the contract"
    assert any(t.startswith("docs/guide/") for t in targets), "README must link the user guide"
    missing = [t for t in targets if not (ROOT / t).is_file()]
    assert not missing, f"README links to files that do not exist: {missing}"


def test_every_environment_variable_is_documented() -> None:
    used: set[str] = set()
    for path in _project_files():
        if path.suffix in {".py", ".ipynb"} and path.name != "test_docs.py":
            used |= set(re.findall(r"\bBATCHKIT_[A-Z][A-Z_]*[A-Z]\b", path.read_text("utf-8")))
    documented = (DOCS / "guide" / "configuration.md").read_text(encoding="utf-8")
    assert used, "no BATCHKIT_ variable found: the search is broken"
    missing = sorted(name for name in used if f"`{name}`" not in documented)
    assert not missing, f"docs/guide/configuration.md does not describe {missing}"


@pytest.mark.parametrize(
    ("command", "page"),
    [
        ("run", "cli.md"),
        ("serve", "server.md"),
        ("lab", "workbench.md"),
        ("app", "workbench.md"),
        ("report", "cli.md"),
    ],
)
def test_every_option_of_a_command_is_documented(
    command: str, page: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from batchkit.cli import main

    with contextlib.suppress(SystemExit):  # argparse exits after printing --help
        main([command, "--help"])
    options = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", capsys.readouterr().out)) - {"--help"}
    documented = (DOCS / "guide" / page).read_text(encoding="utf-8")
    assert options, f"batchkit {command} --help listed no option: the search is broken"
    missing = sorted(o for o in options if f"`{o}" not in documented)
    assert not missing, f"docs/guide/{page} does not describe batchkit {command} {missing}"
