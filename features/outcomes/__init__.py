"""What came back from campaigns: the outcome store, the event checks and the training merge.

Bottom layer on purpose: the service writes the store (``POST /campaigns``, ``POST /outcomes``),
the CLI imports files into it, and training reads it back (``merge_outcomes``).

Rooms: ``features.outcomes.schema`` (the store's tables), ``features.outcomes.store`` (the
append-only store), ``features.outcomes.events`` (normalising and checking posted events,
shared by the API and the CLI), ``features.outcomes.merge`` (store + export for training) and
``features.outcomes.frames`` (campaign members and outcome events as frames, for the campaign results).
"""
