"""The data layer: load and validate a clinic export, and build point-in-time features.

``features.build(tables, as_of, settings)`` is the entry point the layers above use. Note that
the package attribute ``features.build`` is that function; import the module itself with
``sys.modules["features.build"]``; ``from features.build import build_many`` works too.
"""

from features.build import build, build_many, build_rows

__all__ = ["build", "build_many", "build_rows"]
