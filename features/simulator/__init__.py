"""The demo clinic: a believable multi-location clinic with a known ground truth.

Public API:

* :func:`simulate` runs the clinic and returns a :class:`Simulation` (the export as
  ``features.export.tables.Tables`` plus the latent run the oracle needs);
* :func:`truth_at` gives each patient's true return probability and, per consented channel,
  the true booking probability if contacted;
* :func:`write_demo` writes the contract CSVs and ``truth/`` files (``reactivate demo-data``).

The dynamics are documented in ``docs/simulator.md``.
"""

from __future__ import annotations

from features.simulator.api import Simulation, simulate, truth_at
from features.simulator.params import SimConfig
from features.simulator.writer import write_demo

__all__ = ["SimConfig", "Simulation", "simulate", "truth_at", "write_demo"]
