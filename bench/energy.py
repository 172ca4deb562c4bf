"""Where an energy figure came from: the one vocabulary every module and file uses.

A figure is never shown as better sourced than it is: an estimate stays ``estimated`` through
merging, pricing and rendering.
"""

from __future__ import annotations

from enum import Enum


class EnergyKind(str, Enum):
    MEASURED = "measured"  # read from a meter during the windows (NVML, RAPL, --watts-command)
    REPORTED = "reported"  # a device's own firmware figure (an ASIC's reported power)
    ESTIMATED = "estimated"  # computed from a model (TDP x CPU time) or one typed constant
    DATASHEET = "datasheet"  # a vendor's nameplate figure, nothing run here
    USER = "user"  # a rate and draw typed on the command line of `bench economics`

    # Shown and stored as the plain word, on every Python version (3.12 changed mixin formatting).
    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @classmethod
    def parse(cls, value: object) -> "EnergyKind | None":
        """The kind named by ``value``, or None when it names none."""
        try:
            return cls(value)
        except ValueError:
            return None
