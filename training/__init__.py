"""The training layer: snapshots and labels, the return and channel models, baselines, the
backtest, the MLflow registry and scoring. See ``docs/training.md``.

Nothing is imported here on purpose: LightGBM and MLflow are slow to import, and each entry
point imports only the module it needs (``training.fit``, ``training.scoring``,
``training.registry``, ``training.scored_snapshot``).
"""
