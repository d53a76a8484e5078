"""Reload without restart: new artifacts are picked up, broken ones refused and reported."""

from __future__ import annotations

import pandas as pd
import pytest

from serving.api.state import ServingState
from tests.serving.conftest import copy_world, world_settings
from training.scored_snapshot import snapshot_path, write_scored_snapshot, write_snapshot
from training.snapshot_schema import finish_snapshot


@pytest.fixture
def models_dir(world, tmp_path):
    return copy_world(world, tmp_path)


def later(world, days: int) -> pd.Timestamp:
    return world.as_of + pd.Timedelta(days=days)


def test_a_new_snapshot_is_picked_up_without_restart(world, models_dir) -> None:
    state = ServingState(world_settings(models_dir))
    assert state.refresh() and state.current.as_of == world.as_of.date()
    assert not state.refresh()  # nothing changed, nothing reloaded
    smaller = world.snapshot[world.snapshot.clinic_id == "south"]
    smaller = finish_snapshot(smaller, later(world, 7), "1")
    write_scored_snapshot(smaller, snapshot_path(models_dir, later(world, 7)))
    assert state.refresh()
    assert state.current.as_of == later(world, 7).date()
    assert state.current.index.rows == len(smaller) and set(state.current.index.clinics) == {
        "south"
    }
    assert state.status.last_error is None


def test_broken_snapshots_are_refused_and_the_last_good_one_kept(world, models_dir) -> None:
    state = ServingState(world_settings(models_dir))
    state.refresh()
    good = state.current
    snapshot_path(models_dir, later(world, 1)).write_bytes(b"PAR1 half a file")
    assert not state.refresh()
    assert (
        state.current is good
        and "parquet" in state.status.last_error.lower()
        or state.status.last_error
    )
    first_refusal = state.status.last_error_at
    assert not state.refresh() and state.status.last_error_at == first_refusal  # not retried
    snapshot_path(models_dir, later(world, 1)).unlink()
    write_snapshot(
        world.snapshot.drop(columns=["visits_12m"]), snapshot_path(models_dir, later(world, 2))
    )
    assert not state.refresh() and state.current is good
    assert "visits_12m" in state.status.last_error
    write_snapshot(
        world.snapshot.drop(columns=["contacts_180d"]), snapshot_path(models_dir, later(world, 3))
    )
    assert not state.refresh() and "contacts_180d" in state.status.last_error


def test_a_champion_that_cannot_be_loaded_is_refused(world, models_dir) -> None:
    def broken(settings):
        raise ValueError("unsupported bundle format 99")

    state = ServingState(world_settings(models_dir))
    state.refresh()
    good = state.current
    state._champion, state._version_of_champion = broken, lambda settings: "2"
    assert not state.refresh()
    assert state.current is good and state.current.version == "1"
    assert "bundle format" in state.status.last_error


def test_nothing_to_serve_is_reported_not_raised(tmp_path) -> None:
    state = ServingState(world_settings(tmp_path / "empty"))
    assert not state.refresh() and state.current is None
    assert "champion" in state.status.last_error


def test_a_newer_snapshot_of_another_model_version_does_not_shadow_the_champions(
    world, models_dir
) -> None:
    state = ServingState(world_settings(models_dir))
    state.refresh()
    good = state.current
    stale = world.snapshot.assign(model_version="999")
    write_snapshot(stale, snapshot_path(models_dir, later(world, 5)))
    assert not state.refresh() and state.current is good
    assert state.status.last_error is None


def test_only_snapshots_of_other_versions_are_refused_by_name(world, models_dir) -> None:
    state = ServingState(world_settings(models_dir))
    state.refresh()
    good = state.current
    state._champion = lambda settings: (good.bundle, "3")
    state._version_of_champion = lambda settings: "3"
    write_snapshot(world.snapshot.assign(model_version="999"),
                   snapshot_path(models_dir, later(world, 5)))
    assert not state.refresh() and state.current is good
    assert "scored by model v999 but the champion is v3" in state.status.last_error


def test_a_new_champion_serves_its_own_snapshot_of_an_earlier_day(world, models_dir) -> None:
    """A re-run demo: v1 scored a later export than the one v2 was trained and scored on."""
    state = ServingState(world_settings(models_dir))
    state.refresh()
    good = state.current
    write_snapshot(world.snapshot.assign(model_version="1"),
                   snapshot_path(models_dir, later(world, 30)))
    earlier = finish_snapshot(world.snapshot, later(world, -10), "2")
    write_scored_snapshot(earlier, snapshot_path(models_dir, later(world, -10)))
    state._champion = lambda settings: (good.bundle, "2")
    state._version_of_champion = lambda settings: "2"
    assert state.refresh() and state.current.version == "2"
    assert state.current.as_of == later(world, -10).date()
    assert state.status.last_error is None


@pytest.mark.parametrize("stamp", ["model_version", "as_of"])
def test_a_snapshot_without_its_stamps_is_refused(world, models_dir, stamp) -> None:
    state = ServingState(world_settings(models_dir))
    state.refresh()
    good = state.current
    write_snapshot(world.snapshot.drop(columns=[stamp]), snapshot_path(models_dir, later(world, 4)))
    assert not state.refresh() and state.current is good
    assert f"lacks {stamp}" in state.status.last_error
    assert "write_scored_snapshot" in state.status.last_error


def test_a_new_champion_is_not_served_with_the_old_champions_snapshot(world, models_dir) -> None:
    state = ServingState(world_settings(models_dir))
    state.refresh()
    good = state.current
    state._champion = lambda settings: (good.bundle, "2")
    state._version_of_champion = lambda settings: "2"
    assert not state.refresh() and state.current is good and state.current.version == "1"
    assert "scored by model v1 but the champion is v2" in state.status.last_error
