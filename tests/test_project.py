"""The project's own promises: its set-up files agree, and its code passes the gates.

These run the real tools (ruff, mypy, import-linter) on the real tree, so a change that breaks
the house rules fails the test run, not only a reviewer's eye.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def _pyproject() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        return tomllib.load(fh)


def _normalise(requirement: str) -> str:
    req = Requirement(requirement)
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    return f"{req.name.lower().replace('_', '-')}{extras}{req.specifier}"


def test_environment_yml_names_the_same_requirements_as_pyproject() -> None:
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    wanted = {_normalise(r) for r in project["dependencies"]}
    for reqs in project["optional-dependencies"].values():
        # "all" only points back at the other extras.
        wanted |= {_normalise(r) for r in reqs if not r.startswith("batchkit[")}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {_normalise(r) for r in pip_section if not r.startswith("-")}
    assert listed == wanted, (
        f"only in environment.yml: {sorted(listed - wanted)}; "
        f"only in pyproject.toml: {sorted(wanted - listed)}"
    )
    assert "-e ." in pip_section, "environment.yml must install batchkit itself"
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert python.replace("python", "") == _pyproject()["project"]["requires-python"]  # type: ignore[index]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- setup -->\s*```(?:bash|sh)?\n(.*?)```", text, re.S)
    assert block, "README.md must keep its two set-up commands in the block after <!-- setup -->"
    return [ln for ln in block.group(1).splitlines() if ln.strip() and not ln.startswith("#")]


def test_readme_gives_two_commands_and_ci_runs_the_test_one_exactly() -> None:
    main_job, tests = _readme_commands()
    assert "batchkit" in main_job
    assert "pytest" in tests
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert tests in ci, ".ci/run must run exactly the README's test command"
    # ... inside a brand-new virtual environment, as a new user would, not the machine's Python.
    venv = next((i for i, line in enumerate(ci) if line.startswith("python3 -m venv ")), None)
    assert venv is not None, ".ci/run must make a fresh venv with python3 -m venv"
    target = ci[venv].split()[-1]
    activate = ci.index(f". {target}/bin/activate")
    assert ci.index(f"rm -rf {target}") < venv < activate < ci.index(tests)


def test_console_script_points_at_the_cli() -> None:
    scripts = _pyproject()["project"]["scripts"]  # type: ignore[index]
    assert scripts == {"batchkit": "batchkit.cli:main"}
    from batchkit.cli import main

    assert main(["--version"]) == 0


def _run_tool(*args: str) -> subprocess.CompletedProcess[str]:
    # The tools of this interpreter's environment (a venv that is not activated included), not
    # whatever an older one on PATH would say.
    beside = Path(sys.executable).parent / args[0]
    exe = str(beside) if beside.exists() else shutil.which(args[0])
    cmd = [exe, *args[1:]] if exe else [sys.executable, "-m", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.parametrize(
    "command",
    [
        ("ruff", "check", "."),
        ("ruff", "format", "--check", "."),
        ("lint-imports",),
        ("mypy",),
    ],
    ids=["ruff-check", "ruff-format", "import-linter", "mypy-strict"],
)
def test_quality_gate(command: tuple[str, ...]) -> None:
    result = _run_tool(*command)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
