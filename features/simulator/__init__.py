"""The demo clinic: a believable multi-location clinic with a known ground truth.

Public API:

* :func:`simulate` runs the clinic and returns a :class:`Simulation` (the export as
  ``features.export.tables.Tables`` plus the latent run the oracle needs);
* :func:`truth_at` gives each patient's true return probability and, per consented channel,
  the true booking probability if contacted;
* :func:`campaign_members` draws a campaign on the export's lapsed patients,
  :func:`play_campaign` plays it forward as outcome events and :func:`campaign_effect` gives
  its true expected extra bookings;
* :func:`write_demo` writes one clinic's contract CSVs and ``truth/`` files;
* :func:`simulate_group` / :func:`write_group_demo` do the same for a group of clinics of
  several practice types (``practices``: aesthetics, dental, physio) - the default
  ``reactivate demo-data``.

The dynamics are documented in ``docs/simulator.md``.
"""

from __future__ import annotations

from features.simulator.api import (
    Simulation,
    campaign_effect,
    campaign_members,
    play_campaign,
    simulate,
    truth_at,
)
from features.simulator.campaign_play import PlayConfig
from features.simulator.group import simulate_group
from features.simulator.group_writer import write_group_demo
from features.simulator.params import SimConfig
from features.simulator.writer import write_demo

__all__ = [
    "PlayConfig", "SimConfig", "Simulation", "campaign_effect", "campaign_members",
    "play_campaign", "simulate", "simulate_group", "truth_at", "write_demo", "write_group_demo",
]
