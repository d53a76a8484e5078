"""The vectorised per-group primitives the families are built on."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.pipeline.grouping import group_median, ids_to_codes, order_by, time_ordinals


def test_group_median_matches_pandas_on_both_paths():
    rng = np.random.default_rng(0)
    for n_keys, top in ((3, 50), (5_000, 100_000)):  # histogram path, then sort path
        keys = rng.integers(0, n_keys, 4_000)
        values = rng.integers(0, top, 4_000)
        expected = pd.Series(values).groupby(keys).median().reindex(range(n_keys))
        np.testing.assert_allclose(group_median(keys, values, n_keys), expected.to_numpy())


def test_order_by_sorts_by_every_key_even_when_they_do_not_fit_one_int64():
    rng = np.random.default_rng(1)
    a, b, c = (rng.integers(0, 3, 500) for _ in range(3))
    huge = 2**40  # three keys of this cardinality cannot be packed together
    order = order_by([(a, huge), (b, huge), (c, huge)])
    expected = np.lexsort((c, b, a))
    assert (np.stack([a, b, c])[:, order] == np.stack([a, b, c])[:, expected]).all()


def test_time_ordinals_keep_order_across_arrays_on_one_scale():
    first = pd.to_datetime(["2024-01-01 10:00", "2024-01-01 09:59"]).to_numpy()
    second = pd.to_datetime(["2024-01-01 10:00:30"]).to_numpy()
    (x, y), span = time_ordinals(first, second)
    assert x[1] < x[0] < y[0] < span


def test_ids_to_codes_gives_positions_and_minus_one_for_strangers():
    ids = pd.Index(["b", "a", "c"])
    assert ids_to_codes(pd.Series(["a", "c", "zz", "a"]), ids).tolist() == [1, 2, -1, 1]
