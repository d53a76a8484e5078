"""The manager report: one self-contained HTML page a practice manager reads without training.

``collect`` gathers the champion model, the newest scored snapshot and its drift summary;
``render`` turns that :class:`ReportData` into HTML; ``build_report`` does both and writes
the file (``reactivate report``).
"""

from serving.monitoring.report.collect import assemble, build_report, collect, write_report
from serving.monitoring.report.data import Explanations, ModelHealth, ReportData
from serving.monitoring.report.render import render

__all__ = [
    "Explanations",
    "ModelHealth",
    "ReportData",
    "assemble",
    "build_report",
    "collect",
    "render",
    "write_report",
]
