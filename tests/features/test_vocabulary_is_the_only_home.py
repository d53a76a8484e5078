"""Each vocabulary literal and store name is spelled in one module of the source tree.

A second spelling is how "sms" or "scored_" come to mean two things: the channel list of the
API drifting from the loader's, or the service looking for snapshots under another name than
the one scoring writes. Tests are not searched (they spell values on purpose).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ("features", "training", "serving", "bench")


def _sequence(*words: str) -> re.Pattern[str]:
    """The words as consecutive quoted items of a tuple, list or ``Literal[...]``."""
    quoted = [rf"[\"']{re.escape(w)}[\"']" for w in words]
    return re.compile(r"\s*,\s*".join(quoted))


LITERALS: dict[str, tuple[re.Pattern[str], str]] = {
    "channel tuple": (_sequence("sms", "email", "phone", "mail"), "features/vocabulary.py"),
    "status tuple": (_sequence("completed", "no_show", "cancelled", "scheduled"),
                     "features/vocabulary.py"),
    "segment tuple": (_sequence("active", "lapsing", "inactive", "dormant", "lost"),
                      "features/vocabulary.py"),
    "MLflow store file": (re.compile(r"[\"']mlflow\.db[\"']"), "features/store_paths.py"),
    "scored snapshot prefix": (re.compile(r"[\"']scored_[\"']"), "features/store_paths.py"),
}


def _sources() -> list[Path]:
    return sorted(p for d in SOURCE_DIRS for p in (ROOT / d).rglob("*.py"))


@pytest.mark.parametrize("name", sorted(LITERALS))
def test_the_literal_is_spelled_only_in_its_home_module(name):
    pattern, home = LITERALS[name]
    found = {p.relative_to(ROOT).as_posix() for p in _sources()
             if pattern.search(p.read_text(encoding="utf-8"))}
    assert home in found, f"the {name} is no longer defined in {home}"
    assert found == {home}, f"the {name} is spelled outside {home}: {sorted(found - {home})}"
