"""A SEG's frames, one at a time (``curator.ingest.seg``): native 1-bit and 8-bit data read here, compressed
data through pydicom's decoders."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.uid import UID

from curator.ingest.convert_headers import one_line
from curator.ingest.seg_records import SegError
from curator.io.dicom import MAX_DECODED_BYTES, missing_decoder

# --- pixels --------------------------------------------------------------------------------------------------------

class Pixels:
    """Frames of the SEG one at a time: native data read here (pydicom 3.0.2 cannot decode one 1-bit frame whose
    bits do not start on a byte boundary, e.g. frame 2 of 5 x 7 pixels), compressed data through pydicom's
    decoders."""

    def __init__(self, ds: Dataset, count: int, rows: int, columns: int, bits: int) -> None:
        self.ds, self.count, self.rows, self.columns, self.bits = ds, count, rows, columns, bits
        meta = getattr(ds, "file_meta", None)
        self.syntax = str(meta.get("TransferSyntaxUID") or "").strip() if meta is not None else ""
        if not self.syntax:
            raise SegError("the SEG has no transfer syntax (file meta information missing), so its pixel data cannot "
                           "be interpreted. Read the file with pydicom.dcmread so file_meta is kept.")
        if "PixelData" not in ds:
            raise SegError("the SEG has no PixelData: there are no frames to read. Re-export the segmentation.")
        implied = rows * columns * count
        if implied > MAX_DECODED_BYTES:
            raise SegError(f"the SEG's header implies {implied} pixels, more than the {MAX_DECODED_BYTES} allowed "
                           "per file.")
        try:
            uid = UID(self.syntax)
            self.native = not uid.is_compressed and uid.is_little_endian
            missing = missing_decoder(self.syntax)
        except NotImplementedError as error:
            raise SegError(f"the SEG's pixel data use transfer syntax {self.syntax}, which pydicom cannot decode. "
                           "Re-export it uncompressed.") from error
        except Exception as error:
            raise SegError(f"transfer syntax {self.syntax!r} is not a known DICOM transfer syntax "
                           f"({one_line(error)}).") from error
        if missing and not self.native:
            raise SegError(f"the SEG's pixel data use transfer syntax {uid.name} ({self.syntax}) and no installed "
                           f"decoder can read it. Install: {'; '.join(missing)}.")
        if self.native:
            self.data = bytes(ds.PixelData)
            needed = (implied * bits + 7) // 8
            if len(self.data) < needed:
                raise SegError(f"the SEG's PixelData holds {len(self.data)} bytes where {count} frames of {rows} x "
                               f"{columns} pixels at {bits} bit need {needed}: the file is truncated. Copy it again "
                               "from its source.")

    def frame(self, index: int) -> npt.NDArray[np.uint8]:
        pixels = self.rows * self.columns
        if self.native:
            if self.bits == 1:
                start = index * pixels
                first, last = start // 8, (start + pixels + 7) // 8
                packed = np.frombuffer(self.data, dtype=np.uint8, count=last - first, offset=first)
                bits = np.unpackbits(packed, bitorder="little")
                return bits[start % 8:start % 8 + pixels].reshape(self.rows, self.columns)
            flat = np.frombuffer(self.data, dtype=np.uint8, count=pixels, offset=index * pixels)
            return flat.reshape(self.rows, self.columns)
        from pydicom.pixels.decoders.base import get_decoder

        try:
            array, _ = get_decoder(self.syntax).as_array(self.ds, index=index)
        except Exception as error:
            reason = one_line(error) or type(error).__name__
            raise SegError(f"frame {index + 1} of the SEG cannot be decoded ({reason}); the file may be truncated or "
                           "corrupt. Copy it again from its source.") from error
        if array.shape != (self.rows, self.columns):
            raise SegError(f"frame {index + 1} of the SEG decodes to {array.shape} pixels where the header says "
                           f"{self.rows} x {self.columns}.")
        return np.asarray(array).astype(np.uint8, copy=False)
