"""The import rule of the house, read from the source with ``ast``.

``features`` (bottom) <- ``training`` <- ``serving`` (top). Inside ``serving``: ``targeting``
is the lowest room (plain functions over a scored snapshot); ``api`` and ``monitoring`` may
import it; ``cli`` drives everything and nothing imports ``cli``. A lazy import inside a
function counts the same as one at the top of a module.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (package prefix of the importing module, prefixes it must never import)
FORBIDDEN: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("features", ("training", "serving")),
    ("training", ("serving",)),
    ("serving.targeting", ("serving.api", "serving.monitoring", "serving.cli")),
    ("serving.api", ("serving.cli",)),
    ("serving.monitoring", ("serving.cli", "serving.api")),
    ("serving.batch", ("serving.cli", "serving.api", "serving.monitoring")),
)


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _violations(root: Path) -> list[str]:
    out = []
    for package in ("features", "training", "serving"):
        for path in sorted((root / package).rglob("*.py")):
            module = _module_name(path, root)
            for lineno, imported in _imports(path):
                for owner, banned in FORBIDDEN:
                    if _under(module, owner) and any(_under(imported, b) for b in banned):
                        out.append(f"{path.relative_to(root)}:{lineno} imports {imported}")
    return sorted(set(out))


def test_imports_point_downward_only() -> None:
    assert _violations(ROOT) == []


def test_a_lazy_upward_import_is_caught(tmp_path: Path) -> None:
    (tmp_path / "features").mkdir()
    (tmp_path / "serving" / "targeting").mkdir(parents=True)
    (tmp_path / "features" / "x.py").write_text("def f():\n    from training import fit\n")
    (tmp_path / "serving" / "targeting" / "y.py").write_text("from serving.cli import app\n")
    assert _violations(tmp_path) == [
        "features/x.py:2 imports training",
        "features/x.py:2 imports training.fit",
        "serving/targeting/y.py:1 imports serving.cli",
        "serving/targeting/y.py:1 imports serving.cli.app",
    ]
