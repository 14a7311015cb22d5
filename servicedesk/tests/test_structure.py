"""The picture of the code stays true: every app module sits in a declared layer, the
import contracts in pyproject.toml hold, and the docs link only to files that exist."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
# Not placed in a layer: tests, migrations and test helpers; the project package has a
# contract of its own (it imports no app).
UNLAYERED_PARTS = {"tests", "migrations", "testing"}
# A Markdown link or image whose target is a relative path: [text](path#anchor).
RELATIVE_LINK = re.compile(r"\]\((?![a-z][a-z0-9+.-]*:|#|/)([^)\s]+)\)", re.IGNORECASE)


def _layered_modules() -> list[str]:
    [contract] = [c for c in CONFIG["contracts"] if c["type"] == "layers"]
    names = []
    for layer in contract["layers"]:
        for name in re.split(r"[|:]", layer):
            names.append(name.strip().strip("()"))
    return names


def test_every_app_module_sits_in_a_layer():
    graph = grimp.build_graph(*CONFIG["root_packages"], cache_dir=None)
    layered = _layered_modules()
    unplaced = sorted(
        module
        for module in graph.modules
        if "." in module
        and not module.startswith("servicedesk.")
        and not UNLAYERED_PARTS & set(module.split("."))
        and not any(module == name or module.startswith(f"{name}.") for name in layered)
    )
    assert not unplaced, (
        f"{unplaced}: add each to its layer in pyproject.toml [tool.importlinter] "
        "(docs/architecture.md says which)"
    )


def test_the_import_contracts_hold():
    # In a process of its own: import-linter configures logging with dictConfig, which
    # would disable every logger created before it in this one (and blind caplog).
    result = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_relative_links_in_the_docs_point_to_files_that_exist():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = [
        f"{page.relative_to(ROOT)}: {target}"
        for page in pages
        for target in RELATIVE_LINK.findall(page.read_text())
        if not (page.parent / target.split("#")[0]).exists()
    ]

    assert pages[1:], "docs/*.md is empty"
    assert not broken
