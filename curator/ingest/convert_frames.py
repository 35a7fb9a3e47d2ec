"""The converter's check of compressed DICOM frames (``curator.ingest.convert``): each frame's own header (JPEG and
JPEG-LS SOFn/LSE/DNL, JPEG 2000 SIZ, the RLE segment table, walked by ``curator.io.codestreams``) must agree with
Rows, Columns and BitsAllocated, and the frame must be large enough for its pixels, before a decoder allocates
anything from either."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pydicom.dataset import Dataset
from pydicom.uid import UID, JPEG2000TransferSyntaxes, JPEGLSTransferSyntaxes, JPEGTransferSyntaxes, RLELossless

from curator.io.codestreams import (
    J2K_SIZ,
    JPEG_DHP,
    JPEG_DNL,
    JPEG_EXP,
    JPEG_FRAMES,
    JPEG_HUFFMAN_FRAMES,
    JPEG_LSE,
    JPEG_SOS,
    CodestreamError,
    Segment,
    j2k_segments,
    jp2_codestream_start,
    jpeg_segments,
    rle_segments,
)

MAX_FRAME_PIXELS = 4096 * 4096     # a compressed frame whose coding bounds no expansion (JPEG-LS, JPEG 2000)
RLE_EXPANSION = 64                 # an RLE segment: 2 bytes (replicate run) decode to at most 128
J2K_TILE_PART_BYTES = 14           # the smallest tile-part (SOT segment + SOD marker); every tile has one


def is_encapsulated(syntax: str) -> bool:
    try:
        return bool(UID(syntax).is_encapsulated)
    except ValueError:  # not a transfer syntax: the decoder check says so
        return False


def encoded_problem(ds: Dataset, label: str, syntax: str, rows: int, columns: int, bits: int,
                    frames: int) -> str | None:
    """Why the compressed frames cannot be decoded safely (the refusal's message), or None: a frame whose own header
    disagrees with Rows/Columns/BitsAllocated, or whose payload is too small for Rows x Columns, is refused before a
    decoder allocates anything from either.

    Decoders allocate their output from the codestream's header (and pydicom from Rows x Columns) before reading
    the compressed data; a kilobyte that claims 30000 x 30000 pixels would take gigabytes. Each frame is taken from
    the pixel data exactly as pydicom's decoder takes it (``get_frame`` with the same offsets), so the bytes checked
    are the bytes decoded.
    """
    from pydicom.encaps import get_frame
    from pydicom.pixels.utils import as_pixel_options

    options = as_pixel_options(ds)
    for frame in range(frames):
        name = f"frame {frame + 1} of {label}" if frames > 1 else label
        try:
            data = get_frame(ds.PixelData, frame, number_of_frames=options["number_of_frames"],
                             extended_offsets=options.get("extended_offsets"))
        except Exception as error:  # pydicom raises many types for damaged data
            reason = " ".join(str(error).split()) or type(error).__name__
            return (f"{name}: the compressed pixel data cannot be split into its {frames} frame(s) ({reason}). The "
                    "file may be truncated or corrupt; check it with `curator validate --deep`.")
        if syntax == RLELossless:
            problem = _rle_problem(data, rows, columns, bits)
        elif syntax in JPEG2000TransferSyntaxes:
            problem = _j2k_problem(data, rows, columns, bits)
        elif syntax in JPEGTransferSyntaxes or syntax in JPEGLSTransferSyntaxes:
            problem = _jpeg_problem(data, rows, columns, bits)
        else:  # a compressed syntax without a parser here: only the per-frame cap
            problem = _capped(rows, columns, f"transfer syntax {UID(syntax).name}")
        if problem:
            return (f"{name}: {problem}. Refused before decoding: the header does not match the compressed data (a "
                    "damaged or forged file); check it with `curator validate --deep`.")
    return None


def _capped(rows: int, columns: int, coding: str) -> str | None:
    """Why a frame whose coding gives no bound on its expansion is too large to decode, or None."""
    if rows * columns > MAX_FRAME_PIXELS:
        return (f"Rows x Columns is {rows} x {columns}; {coding} can describe any number of pixels in a few bytes, "
                f"so frames are decoded up to {MAX_FRAME_PIXELS} pixels ({math.isqrt(MAX_FRAME_PIXELS)} x "
                f"{math.isqrt(MAX_FRAME_PIXELS)}) only")
    return None


def _rle_problem(data: bytes, rows: int, columns: int, bits: int) -> str | None:
    """RLE (PS3.5 G): a 64-byte header of segment count and offsets, then one PackBits segment per byte plane of
    Rows x Columns bytes. A segment's byte pair decodes to at most 128 bytes, so a segment of n bytes holds at most
    64 n: one shorter than Rows x Columns / 64 cannot be this image."""
    try:
        segments = rle_segments(data)
    except CodestreamError as error:
        return str(error)
    expected = bits // 8
    if len(segments) != expected:
        return f"the RLE header gives {len(segments)} segments where BitsAllocated {bits} needs {expected}"
    plane = rows * columns
    for segment in segments:
        if segment.length * RLE_EXPANSION < plane:
            return (f"RLE segment {segment.marker} is {segment.length} bytes, which decode to at most "
                    f"{segment.length * RLE_EXPANSION} bytes ({RLE_EXPANSION} per byte), but Rows x Columns is "
                    f"{rows} x {columns} = {plane}")
    return None


# JPEG (ISO 10918-1) and JPEG-LS (ISO 14495-1) frames: pydicom's JPEG decoder (libjpeg) reads both


@dataclass
class _JpegFrame:
    """What the segments of one JPEG frame state, against what the DICOM header says."""

    rows: int
    columns: int
    bits: int
    size: int                          # bytes of the codestream
    sof: int | None = None             # the frame header's marker
    stated: list[int] = field(default_factory=lambda: [0, 0])   # height and width as the segments state them


def _jpeg_problem(data: bytes, rows: int, columns: int, bits: int) -> str | None:
    """Walk every marker segment of a JPEG or JPEG-LS codestream (``curator.io.codestreams``, skipping the
    entropy-coded data); a frame is one whole codestream, SOI to EOI, so one cut short is refused rather than
    decoded into made-up pixels. The frame header (SOFn; a zero height or width there is stated by a DNL or
    JPEG-LS LSE 4 segment, which are checked too) must state Rows x Columns, one component and at most
    BitsAllocated bits; at the first scan the size of the codestream must allow Rows x Columns pixels."""
    frame = _JpegFrame(rows, columns, bits, len(data))
    try:
        for segment in jpeg_segments(data, strict=True):
            problem = _jpeg_segment_problem(frame, segment)
            if problem:
                return problem
    except CodestreamError as error:
        return str(error)
    if frame.sof is None:
        return "the JPEG codestream ends before its frame header"
    if frame.stated != [rows, columns]:
        return (f"the JPEG codestream states {frame.stated[0]} x {frame.stated[1]} pixels where Rows x Columns is "
                f"{rows} x {columns}")
    return None


def _jpeg_segment_problem(frame: _JpegFrame, segment: Segment) -> str | None:
    marker, payload = segment.marker, segment.payload
    if marker in (JPEG_DHP, JPEG_EXP):
        return "the JPEG codestream is hierarchical (DHP/EXP marker), which no DICOM CT transfer syntax uses"
    if marker in JPEG_FRAMES:
        return _frame_header_problem(frame, marker, payload)
    if marker == JPEG_LSE and payload[:1].tobytes() == b"\x04":  # JPEG-LS oversize image dimension
        size = payload[1] if len(payload) > 1 else 0
        if not 2 <= size <= 4 or len(payload) < 2 + 2 * size:
            return "the JPEG-LS oversize-dimension segment (LSE 4) is malformed"
        height = int.from_bytes(payload[2:2 + size], "big")
        width = int.from_bytes(payload[2 + size:2 + 2 * size], "big")
        if (height, width) != (frame.rows, frame.columns):
            return (f"the JPEG-LS oversize-dimension segment says {height} x {width} pixels where Rows x Columns is "
                    f"{frame.rows} x {frame.columns}")
        frame.stated = [height, width]
    elif marker == JPEG_DNL:
        lines = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else -1
        if lines != frame.rows:
            return f"the JPEG DNL segment says {lines} lines where Rows is {frame.rows}"
        frame.stated[0] = lines
    elif marker == JPEG_SOS:
        if frame.sof is None:
            return "the JPEG codestream has a scan before any frame header"
        return _jpeg_bound(frame.sof, frame.size, frame.rows, frame.columns)
    return None


def _frame_header_problem(frame: _JpegFrame, marker: int, payload: memoryview) -> str | None:
    if frame.sof is not None:
        return "the JPEG codestream holds more than one frame header"
    if len(payload) < 6:
        return f"the JPEG frame header (FF{marker:02X}) is {len(payload)} bytes, too short"
    precision, components = payload[0], payload[5]
    frame.stated = [int.from_bytes(payload[1:3], "big"), int.from_bytes(payload[3:5], "big")]
    if frame.stated[0] not in (0, frame.rows) or frame.stated[1] not in (0, frame.columns):
        return (f"the JPEG frame header says {frame.stated[0]} x {frame.stated[1]} pixels where Rows x Columns is "
                f"{frame.rows} x {frame.columns}")
    if components != 1:
        return f"the JPEG frame header gives {components} components where SamplesPerPixel is 1"
    if not 2 <= precision <= frame.bits:
        return f"the JPEG frame header gives {precision}-bit samples where BitsAllocated is {frame.bits}"
    frame.sof = marker
    return None


def _jpeg_bound(frame: int, size: int, rows: int, columns: int) -> str | None:
    """Huffman coding spends at least one bit per pixel (lossless: every sample codes its difference category),
    two bits per 8 x 8 block (sequential DCT: a DC code and an AC end-of-block) or one bit per block (progressive:
    each block's DC in the first scan); arithmetic coding and JPEG-LS have no such floor, so their frames are
    capped instead."""
    blocks = math.ceil(rows / 8) * math.ceil(columns / 8)
    huffman = JPEG_HUFFMAN_FRAMES.get(frame)
    if huffman == "lossless":
        needed, what = rows * columns, "one bit per pixel (lossless Huffman coding)"
    elif huffman == "sequential":
        needed, what = 2 * blocks, "two bits per 8 x 8 block (sequential Huffman DCT)"
    elif huffman == "progressive":
        needed, what = blocks, "one bit per 8 x 8 block (progressive Huffman DCT)"
    else:
        return _capped(rows, columns, f"{JPEG_FRAMES[frame]} coding")
    if size * 8 < needed:
        return (f"the JPEG codestream is {size} bytes, but Rows x Columns {rows} x {columns} needs at least "
                f"{math.ceil(needed / 8)} bytes at {what}")
    return None


def _j2k_problem(data: bytes, rows: int, columns: int, bits: int) -> str | None:
    """JPEG 2000 (ISO 15444-1 A.5.1; HTJ2K alike): SOC, then SIZ with the reference grid, the tiling and one
    entry per component. The image must be Rows x Columns, one component of at most BitsAllocated bits; every tile
    has at least one tile-part (14 bytes), so the tiling cannot have more tiles than the codestream has room for
    (a decoder sets up every tile from SIZ alone). Pixels: capped (the coding has no floor per pixel)."""
    try:
        header = j2k_segments(data, jp2_codestream_start(data))
        next(header)                                   # SOC
        siz = next(header, None)
    except CodestreamError as error:
        return str(error)
    if siz is None or siz.marker != J2K_SIZ:
        return "the JPEG 2000 codestream does not start with SOC and SIZ markers (FF4F FF51)"
    payload = siz.payload                              # Rsiz, Xsiz, Ysiz, XOsiz, YOsiz, XTsiz, YTsiz, XTOsiz, ...
    if len(payload) < 36:
        return "the JPEG 2000 SIZ segment is cut short"
    (x, y, x0, y0, tile_x, tile_y, tile_x0, tile_y0) = (int.from_bytes(payload[i:i + 4], "big")
                                                        for i in range(2, 34, 4))
    components = int.from_bytes(payload[34:36], "big")
    if not (x0 < x and y0 < y and tile_x > 0 and tile_y > 0 and tile_x0 <= x0 and tile_y0 <= y0
            and tile_x + tile_x0 > x0 and tile_y + tile_y0 > y0):
        return f"the JPEG 2000 SIZ segment's grid is inconsistent (image {x0}..{x} x {y0}..{y}, tiles {tile_x} x " \
               f"{tile_y} from {tile_x0}, {tile_y0})"
    height, width = y - y0, x - x0
    if (height, width) != (rows, columns):
        return f"the JPEG 2000 SIZ segment says {height} x {width} pixels where Rows x Columns is {rows} x {columns}"
    if components != 1:
        return f"the JPEG 2000 SIZ segment gives {components} components where SamplesPerPixel is 1"
    if len(payload) < 37:
        return "the JPEG 2000 SIZ segment is cut short"
    precision = (payload[36] & 0x7F) + 1
    if precision > bits:
        return f"the JPEG 2000 SIZ segment gives {precision}-bit samples where BitsAllocated is {bits}"
    tiles = math.ceil((x - tile_x0) / tile_x) * math.ceil((y - tile_y0) / tile_y)
    if tiles * J2K_TILE_PART_BYTES > len(data):
        return (f"the JPEG 2000 SIZ segment divides the image into {tiles} tiles, but the {len(data)}-byte "
                f"codestream has room for at most {len(data) // J2K_TILE_PART_BYTES} (each needs a tile-part of at "
                f"least {J2K_TILE_PART_BYTES} bytes)")
    return _capped(rows, columns, "JPEG 2000 coding")
