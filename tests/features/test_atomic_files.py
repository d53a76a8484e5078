"""The one atomic-write helper: all or nothing, nothing left behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from features.atomic_files import write_atomically, write_text_atomically


def _leftovers(folder: Path, target: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p != target)


def test_a_writer_that_raises_leaves_the_target_unchanged_and_no_temporary_file(tmp_path):
    target = tmp_path / "scored.parquet"
    target.write_text("old content")

    def half_then_fail(tmp: Path) -> None:
        tmp.write_text("half of the new")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomically(target, half_then_fail)
    assert target.read_text() == "old content"
    assert _leftovers(tmp_path, target) == []


def test_a_failed_first_write_creates_no_target_and_no_temporary_file(tmp_path):
    target = tmp_path / "new" / "report.html"

    def fail(tmp: Path) -> None:
        raise ValueError("render failed")

    with pytest.raises(ValueError):
        write_atomically(target, fail)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_a_successful_write_replaces_the_target_and_keeps_its_suffix_for_the_writer(tmp_path):
    target = tmp_path / "summary.json"
    target.write_text("{}")
    seen: list[str] = []

    def writer(tmp: Path) -> None:
        seen.append(tmp.suffix)
        tmp.write_text('{"drifted": false}')

    assert write_atomically(target, writer) == target
    assert target.read_text() == '{"drifted": false}'
    assert seen == [".json"]
    assert _leftovers(tmp_path, target) == []


def test_a_mode_is_applied_to_the_written_file(tmp_path):
    target = tmp_path / "tokens.json"
    write_text_atomically(target, '{"tokens": []}', mode=0o600)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_text() == '{"tokens": []}'


def test_without_a_mode_the_file_gets_ordinary_permissions_not_owner_only(tmp_path):
    umask = os.umask(0o022)
    try:
        target = write_text_atomically(tmp_path / "report.html", "<html></html>")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
