"""The records of ``curator.ingest.seg``: the refusal, the mask, and what a SEG's segments and frames say of
themselves before any pixel is read."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


class SegError(Exception):
    """The SEG cannot become a mask on this volume; the message says what was expected, found, and what to do."""


@dataclass(frozen=True, eq=False)  # eq=False: arrays do not compare to one truth value
class SegMask:
    """A SEG on a volume's grid. ``data`` is read-only uint8 with the volume's shape (columns, rows, slices)."""

    data: npt.NDArray[np.uint8]
    notes: tuple[str, ...]                # facts for the provenance record
    segments: tuple[str, ...]             # labels of the segments with foreground in ``data``, by segment number


@dataclass(frozen=True)
class Segment:
    number: int
    label: str

    def __str__(self) -> str:
        return f"segment {self.number} ({self.label!r})"


@dataclass
class Frames:
    """What the frames say of themselves, before any pixel is read."""

    segments: list[int]                   # ReferencedSegmentNumber per frame
    origin: FloatArray                    # (n, 3) ImagePositionPatient, LPS mm
    row: FloatArray                       # (n, 3) unit row direction (increasing column index)
    col: FloatArray                       # (n, 3) unit column direction (increasing row index)
    spacing: FloatArray                   # (n, 2) PixelSpacing: (between rows, between columns) mm


@dataclass
class Tally:
    """Per segment: foreground pixels in the SEG, on the volume's slices, between them, outside."""

    total: dict[int, int] = field(default_factory=dict)
    kept: dict[int, int] = field(default_factory=dict)
    between: dict[int, int] = field(default_factory=dict)
    outside: dict[int, int] = field(default_factory=dict)
    between_frames: int = 0
    outside_frames: list[int] = field(default_factory=list)
    repeated: int = 0

    def add(self, bucket: dict[int, int], segment: int, count: int) -> None:
        bucket[segment] = bucket.get(segment, 0) + count
