"""The converter's pixels (``curator.ingest.convert``): the decoders named, each image decoded once through
pydicom, rescaled to whole HU, shifted in-plane for a tilt correction and interpolated along the normal when
resampled, into the one output array."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from pydicom.uid import UID

from curator.ingest.convert_decoder import fast_plugin
from curator.ingest.convert_headers import ConversionError, SeriesImage, one_line
from curator.ingest.convert_plan import FloatArray, Plan
from curator.io.dicom import missing_decoder


def check_decoders(images: list[SeriesImage]) -> list[str]:
    """Notes naming the transfer syntaxes; ConversionError when one cannot be decoded here."""
    notes = []
    for syntax in sorted({image.syntax for image in images}):
        name = UID(syntax).name
        try:
            missing = missing_decoder(syntax)
        except NotImplementedError as error:
            raise ConversionError(f"the pixel data use transfer syntax {name} ({syntax}), which pydicom cannot "
                                  "decode at all. Convert the files to an uncompressed syntax first.") from error
        except Exception as error:
            raise ConversionError(f"transfer syntax {syntax!r} is not a known DICOM transfer syntax ({error}).") \
                from error
        if missing:
            raise ConversionError(f"the pixel data use transfer syntax {name} ({syntax}) and no installed decoder "
                                  f"can read it. Install: {'; '.join(missing)} (for example `pip install pylibjpeg "
                                  "pylibjpeg-libjpeg pylibjpeg-openjpeg`).")
        if UID(syntax).is_compressed:
            notes.append(f"pixel data in {name} ({syntax}) decoded with pydicom")
    return notes


def _decoded(image: SeriesImage) -> npt.NDArray[np.generic]:
    """The stored values of one frame: libjpeg-turbo for JPEG Lossless where installed (8x faster than pylibjpeg's
    libjpeg, same samples), else, or when it refuses the frame, pydicom's installed plugins."""
    from pydicom.pixels.decoders.base import get_decoder

    decoder = get_decoder(image.syntax)
    plugin = fast_plugin(image.syntax)
    if plugin:
        try:
            return decoder.as_array(image.dataset, index=image.frame, decoding_plugin=plugin)[0]
        except Exception:  # a frame libjpeg-turbo refuses: pydicom's own decoders judge it below
            pass
    return decoder.as_array(image.dataset, index=image.frame)[0]


def _stored(image: SeriesImage) -> npt.NDArray[np.generic]:
    try:
        array = _decoded(image)
    except Exception as error:
        reason = one_line(error) or type(error).__name__
        raise ConversionError(f"{image.label}: the pixel data cannot be decoded ({reason}). The file may be "
                              "truncated or corrupt; check it with `curator validate --deep`.") from error
    if array.shape != (image.rows, image.columns):
        raise ConversionError(f"{image.label}: decoded {array.shape} pixels where the header says {image.rows} x "
                              f"{image.columns}.")
    return array


def _hu(image: SeriesImage) -> npt.NDArray[np.int32]:
    """The image in whole HU (int32), range-checked for int16."""
    stored = _stored(image)
    if image.slope == 1.0 and float(image.intercept).is_integer():
        low, high = int(stored.min()), int(stored.max())
        intercept = int(image.intercept)
        if low + intercept < -32768 or high + intercept > 32767:
            raise _range_error(image, low + intercept, high + intercept)
        return stored.astype(np.int32) + np.int32(intercept)
    values = stored.astype(np.float64) * image.slope + image.intercept
    rounded = np.rint(values)
    if not np.array_equal(values, rounded):
        example = float(values[values != rounded].flat[0])
        raise ConversionError(
            f"{image.label}: RescaleSlope {image.slope:g} and RescaleIntercept {image.intercept:g} give values that "
            f"are not whole HU (e.g. {example:g}); curator writes CT volumes as int16 HU, which would change them. "
            "This is not a plain CT series (a derived or parametric map?): choose the original CT series.")
    smallest, largest = float(rounded.min()), float(rounded.max())
    if smallest < -32768 or largest > 32767:
        raise _range_error(image, smallest, largest)
    return rounded.astype(np.int32)


def _range_error(image: SeriesImage, low: float, high: float) -> ConversionError:
    return ConversionError(f"{image.label}: HU values {low:g}..{high:g} do not fit int16 (-32768..32767) after "
                           f"RescaleSlope {image.slope:g} and RescaleIntercept {image.intercept:g}; the rescale "
                           "attributes look wrong. Check them against the scanner's export.")


def _round(values: FloatArray) -> FloatArray:
    """Round half away from zero, as C's round() in dcm2niix."""
    return np.trunc(values + np.copysign(0.5, values))


def _shift_axis(source: FloatArray, shift: float, low: int, size: int, pad: float, nearest_pad: bool) -> FloatArray:
    """Move ``source`` along axis 0 by ``shift`` pixels into ``size`` rows starting ``low`` rows before it.

    Output row r samples input row y = r - low - shift by linear interpolation between floor(y) and floor(y)+1;
    rows with y outside [0, rows - 1] are padding. With a PixelPaddingValue, a pixel next to padding is taken from
    the nearer input pixel instead of being blended with padding (dcm2niix issue 262).
    """
    rows = source.shape[0]
    out = np.full((size, *source.shape[1:]), pad, dtype=np.float64)
    y0 = -low - shift                       # input coordinate of output row 0
    base = math.floor(y0 + 1e-6)            # a move within a millionth of a pixel of a whole one is that one
    frac = max(0.0, y0 - base)
    first = max(0, -base)                   # first output row whose floor(y) >= 0
    if frac < 1e-6:                         # whole-pixel move: copy
        last = min(size, rows - base)
        if last > first:
            out[first:last] = source[first + base:last + base]
        return out
    last = min(size, rows - 1 - base)       # output rows whose floor(y) + 1 <= rows - 1
    if last <= first:
        return out
    lo = source[first + base:last + base]
    hi = source[first + base + 1:last + base + 1]
    blended = lo * (1.0 - frac) + hi * frac
    if nearest_pad:
        touching = (lo == pad) | (hi == pad)
        blended = np.where(touching, hi if frac >= 0.5 else lo, blended)
    out[first:last] = blended
    return out


def _shifted(hu: npt.NDArray[np.int32], shift: npt.NDArray[np.float64], low: tuple[int, int],
             shape: tuple[int, int], pad: float, nearest_pad: bool) -> FloatArray:
    """One slice (rows, columns) moved in-plane by ``shift`` = (i, j) pixels into the (rows, columns) grid."""
    values = hu.astype(np.float64)
    if abs(float(shift[1])) > 0 or low[1] or shape[1] != hu.shape[0]:
        values = _shift_axis(values, float(shift[1]), low[1], shape[1], pad, nearest_pad)
    if abs(float(shift[0])) > 0 or low[0] or shape[0] != hu.shape[1]:
        values = _shift_axis(values.T, float(shift[0]), low[0], shape[0], pad, nearest_pad).T
    return _round(values)


def _padding(plan: Plan) -> tuple[float, bool]:
    """The value for pixels the tilt correction adds (HU), and whether PixelPaddingValue gave it (a padding value
    that is no int16 HU is ignored: the darkest value of the series is used, as when there is none)."""
    first = plan.images[0]
    if first.padding is not None:
        value = first.padding * first.slope + first.intercept
        if -32768 <= value <= 32767 and float(value).is_integer():
            return value, True
    return float(min(int(_hu(image).min()) for image in plan.images)), False


def fill_volume(plan: Plan, out: npt.NDArray[np.int16]) -> None:
    """Fill ``out`` (slices, rows, columns) slice by slice."""
    pad, nearest_pad = _padding(plan) if plan.shifts is not None else (0.0, False)
    cache: dict[int, npt.NDArray[np.generic]] = {}

    def prepared(index: int) -> npt.NDArray[np.generic]:
        if index not in cache:
            hu = _hu(plan.images[index])
            value: npt.NDArray[np.generic] = hu if plan.shifts is None else \
                _shifted(hu, plan.shifts[index], plan.low, plan.shape, pad, nearest_pad)
            for old in [key for key in cache if key < index - 1]:
                del cache[old]
            cache[index] = value
        return cache[index]

    if plan.targets is None:
        for index in range(len(plan.images)):
            out[index] = prepared(index)
            cache.clear()
        return
    relative = plan.relative
    for s, target in enumerate(plan.targets.tolist()):
        high = min(int(np.searchsorted(relative, target, "left")), len(relative) - 1)
        low = max(high - 1, 0)
        if relative[high] == relative[low] or target >= relative[high]:
            out[s] = prepared(high)
            continue
        weight = (target - relative[low]) / (relative[high] - relative[low])
        below = prepared(low).astype(np.float64)
        above = prepared(high).astype(np.float64)
        out[s] = _round(below * (1.0 - weight) + above * weight)
