"""Signal plug-ins. `signals_for(settings)` returns the active set; the matcher asks them by role."""

from __future__ import annotations

from inkseal.signals.base import SignalType
from inkseal.signals.orb import ORBSignal
from inkseal.signals.pdq import PDQSignal
from inkseal.signals.sscd import SSCDSignal

__all__ = ["SignalType", "SSCDSignal", "PDQSignal", "ORBSignal"]
