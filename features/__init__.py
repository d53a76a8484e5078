"""The data layer: load and validate a clinic export, and build point-in-time features.

Rooms: ``features.vocabulary`` (channels, statuses, segments, outcome types and the two time
rules), ``features.config`` (the settings object), ``features.spec`` (the declared feature
list), ``features.export`` (read and validate an export), ``features.pipeline`` (the feature
families and their assembly) and ``features.simulator`` (the demo clinic).

``features.build(tables, as_of, settings)`` is the entry point the layers above use; it lives
in ``features.pipeline.assemble``.
"""

from features.pipeline.assemble import build, build_many, build_rows

__all__ = ["build", "build_many", "build_rows"]
