"""Incremental targeting: the bookings a message adds, per channel (issue 12).

Modules: ``design`` (channel-aware matrices), ``learners`` (T-, DR- and the structured
learner), ``rows`` (member and no-contact rows), ``model`` (the bundle's uplift model and
its fallback), ``metrics`` and ``evaluation`` (Qini, AUUC, extra bookings), ``columns``
(scored-snapshot columns) and ``training_step`` (the step of a training run).
"""
