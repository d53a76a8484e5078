"""The scored snapshot's declaration: one stamping function, its docs table, its refusals."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.spec import FEATURES
from training.context import CONTEXT_FEATURES
from training.scored_snapshot import read_snapshot, write_scored_snapshot
from training.scoring import score
from training.snapshot_schema import (
    READERS,
    REGENERATE,
    STAMPS,
    columns_read_by,
    finish_snapshot,
    snapshot_columns,
    to_markdown,
)

from .conftest import small_settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "scored-snapshot.md"


@pytest.fixture(scope="module")
def scored(small_sim, as_of, trained) -> pd.DataFrame:
    return score(small_sim.tables, as_of, trained.bundle, small_settings())


def test_the_docs_table_is_generated_from_the_declaration() -> None:
    assert DOCS.read_text() == to_markdown(), f"regenerate: {REGENERATE}"


def test_the_declaration_covers_every_feature_and_context_column_once() -> None:
    names = [c.name for c in snapshot_columns()]
    assert len(names) == len(set(names))
    assert {f.name for f in FEATURES} | set(CONTEXT_FEATURES) | set(STAMPS) <= set(names)
    assert all(c.readers and set(c.readers) <= set(READERS) for c in snapshot_columns()
               if c.name in {"best_channel", "return_probability", "do_not_contact"})
    assert "best_channel" in columns_read_by("drift") and "as_of" in columns_read_by("api")
    with pytest.raises(ValueError, match="unknown snapshot reader"):
        columns_read_by("billing")


def test_finishing_stamps_orders_and_types_every_declared_column(scored, as_of) -> None:
    shuffled = scored[list(reversed(scored.columns))]
    finished = finish_snapshot(shuffled, as_of, 7)
    declared = snapshot_columns()
    assert list(finished.columns) == [c.name for c in declared]
    assert {c.name: str(finished[c.name].dtype) for c in declared} == {
        c.name: c.dtype for c in declared}
    assert finished["model_version"].eq("7").all()
    assert finished["as_of"].eq(pd.Timestamp(as_of).normalize()).all()
    pd.testing.assert_frame_equal(finish_snapshot(finished, as_of, 7), finished)  # idempotent


def test_a_finished_snapshot_survives_a_parquet_round_trip(scored, as_of, tmp_path) -> None:
    finished = finish_snapshot(scored, as_of, "3")
    path = write_scored_snapshot(finished, tmp_path / "scored_x.parquet")
    pd.testing.assert_frame_equal(read_snapshot(path), finished)


def test_a_frame_missing_a_declared_column_or_a_version_is_not_finished(scored, as_of) -> None:
    with pytest.raises(ValueError, match="visits_12m"):
        finish_snapshot(scored.drop(columns=["visits_12m"]), as_of, "1")
    with pytest.raises(ValueError, match="model_version"):
        finish_snapshot(scored, as_of, " ")


def test_an_unstamped_or_reordered_frame_is_never_written_as_a_scored_snapshot(
    scored, as_of, tmp_path
) -> None:
    with pytest.raises(ValueError, match="as_of"):
        write_scored_snapshot(scored, tmp_path / "a.parquet")
    finished = finish_snapshot(scored, as_of, "1")
    with pytest.raises(ValueError, match="declared"):
        write_scored_snapshot(finished[list(reversed(finished.columns))], tmp_path / "b.parquet")
    assert not list(tmp_path.iterdir())
