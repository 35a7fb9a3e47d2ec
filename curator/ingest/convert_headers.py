"""Reading a CT series' DICOM headers for the converter (``curator.ingest.convert``): each image (a single-frame
dataset or one frame of an enhanced multi-frame one) with its geometry and rescale, checked before any pixel is
decoded, and the refusal every step of the conversion raises."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from pydicom.dataset import Dataset

from curator.ingest.convert_frames import encoded_problem, is_encapsulated
from curator.io.dicom import MAX_DECODED_BYTES, element_value, finite_numbers, group_value, whole_number

ORIENTATION_TOLERANCE = 1e-3       # direction cosines that differ by less are the same orientation
PIXEL_SPACING_TOLERANCE = 1e-4     # mm


class ConversionError(Exception):
    """The series cannot be converted as it is; the message says what was expected, found, and what to do."""


@dataclass(frozen=True)
class SeriesImage:
    """One image (a single-frame dataset or one frame of a multi-frame one) with its geometry."""

    label: str
    dataset: Dataset
    frame: int | None                     # index into a multi-frame object, None for a single-frame one
    rows: int
    columns: int
    orientation: tuple[float, ...]        # 6 direction cosines
    position: tuple[float, float, float]
    pixel_spacing: tuple[float, float]    # (row spacing, column spacing) as in DICOM
    slope: float
    intercept: float
    rescaled: bool                        # RescaleSlope/Intercept present (else stored values taken as HU)
    syntax: str
    padding: float | None                 # PixelPaddingValue (stored units)



# --- reading the headers -------------------------------------------------------------------------------------------

def one_line(value: object) -> str:
    return " ".join(str(value).split())


def _instance_label(ds: Dataset, index: int) -> str:
    try:
        number = ds.get("InstanceNumber")
        if number is not None and str(number).strip() != "":
            return f"instance {int(float(number))}"
    except Exception:  # an unreadable InstanceNumber only changes how the image is named
        pass
    return f"image {index + 1} (no InstanceNumber)"


def _numbers(value: object, count: int, keyword: str, label: str) -> tuple[float, ...]:
    if value is None:
        raise ConversionError(f"{label} has no {keyword}: a volume needs it on every image to place the slices. "
                              "Convert a series whose images all carry it.")
    numbers = finite_numbers(value, count)
    if isinstance(numbers, str):
        raise ConversionError(f"{label}: {keyword} {numbers}.")
    return numbers


def _integer(ds: Dataset, keyword: str, label: str, default: int | None = None) -> int:
    value = element_value(ds, keyword)
    if value is None:
        if default is not None:
            return default
        raise ConversionError(f"{label} has no {keyword}; an image needs it to be decoded.")
    number = whole_number(value)
    if isinstance(number, str):
        raise ConversionError(f"{label}: {keyword} {number}.")
    return number


def read_images(datasets: Sequence[Dataset]) -> list[SeriesImage]:
    images: list[SeriesImage] = []
    for index, ds in enumerate(datasets):
        if not isinstance(ds, Dataset):
            raise ConversionError(f"item {index + 1} of the series is a {type(ds).__name__}, not a pydicom Dataset.")
        try:
            images.extend(_frames(ds, index))
        except ConversionError:
            raise
        except Exception as error:  # a malformed element pydicom only notices when it is read
            raise ConversionError(f"{_instance_label(ds, index)}: the DICOM header cannot be read ({one_line(error)})."
                                  " Check the file with `curator validate`.") from error
    return images


def _frames(ds: Dataset, index: int) -> Iterator[SeriesImage]:
    label = _instance_label(ds, index)
    meta = getattr(ds, "file_meta", None)
    syntax = str(meta.get("TransferSyntaxUID") or "") if meta is not None else ""
    if not syntax:
        raise ConversionError(f"{label} has no transfer syntax (file meta information missing), so its pixel data "
                              "cannot be interpreted. Read the files with pydicom.dcmread so file_meta is kept.")
    if "PixelData" not in ds:
        what = "float pixel data, not CT numbers" if ("FloatPixelData" in ds or "DoubleFloatPixelData" in ds) \
            else "no pixel data"
        raise ConversionError(f"{label} has {what}; a CT volume needs stored integers with a rescale to HU.")
    rows = _integer(ds, "Rows", label)
    columns = _integer(ds, "Columns", label)
    samples = _integer(ds, "SamplesPerPixel", label, default=1)
    bits = _integer(ds, "BitsAllocated", label)
    frames = _integer(ds, "NumberOfFrames", label, default=1)
    if rows <= 0 or columns <= 0 or frames <= 0 or bits not in (8, 16, 32):
        raise ConversionError(f"{label}: Rows {rows}, Columns {columns}, NumberOfFrames {frames}, BitsAllocated "
                              f"{bits} do not describe a greyscale image.")
    if samples != 1:
        raise ConversionError(f"{label} is a colour image (SamplesPerPixel {samples}); a CT volume holds one value "
                              "per pixel. Choose the series of original CT images.")
    implied = rows * columns * frames * bits // 8
    if implied > MAX_DECODED_BYTES:
        raise ConversionError(f"{label}: Rows {rows} x Columns {columns} x NumberOfFrames {frames} x {bits // 8} "
                              f"bytes is {implied} bytes of pixels, more than the {MAX_DECODED_BYTES >> 30} GiB "
                              "allowed per file; the header is damaged or forged (an absurd NumberOfFrames?).")
    problem = encoded_problem(ds, label, syntax, rows, columns, bits, frames) if is_encapsulated(syntax) else None
    if problem:
        raise ConversionError(problem)
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    shared_seq = ds.get("SharedFunctionalGroupsSequence")
    shared = [shared_seq[0]] if shared_seq else []
    multi = frames > 1 or per_frame is not None
    if multi and (per_frame is None or len(per_frame) != frames):
        found = "no PerFrameFunctionalGroupsSequence" if per_frame is None else f"{len(per_frame)} items"
        raise ConversionError(f"{label} has {frames} frames but {found}: the position of each frame is unknown. "
                              "Only enhanced multi-frame objects (one Plane Position per frame) can be converted.")
    padding_value = ds.get("PixelPaddingValue")
    padding: float | None = None
    if padding_value is not None and padding_value != "":
        try:
            padding = float(padding_value)
        except (TypeError, ValueError):
            padding = None
        if padding is not None and ds.get("PixelRepresentation") == 1 and padding > 32767:
            padding -= 65536  # a signed value read through an unsigned VR
    for frame in range(frames):
        groups = ([per_frame[frame]] if multi and per_frame is not None else []) + shared
        name = f"frame {frame + 1} of {label}" if multi else label
        orientation = _numbers(group_value(groups, "PlaneOrientationSequence", "ImageOrientationPatient", ds), 6,
                               "ImageOrientationPatient", name)
        position = _numbers(group_value(groups, "PlanePositionSequence", "ImagePositionPatient", ds), 3,
                            "ImagePositionPatient", name)
        spacing = _numbers(group_value(groups, "PixelMeasuresSequence", "PixelSpacing", ds), 2, "PixelSpacing", name)
        if min(spacing) <= 0:
            raise ConversionError(f"{name}: PixelSpacing {spacing} is not positive.")
        raw_slope = group_value(groups, "PixelValueTransformationSequence", "RescaleSlope", ds)
        raw_intercept = group_value(groups, "PixelValueTransformationSequence", "RescaleIntercept", ds)
        slope = _numbers(raw_slope, 1, "RescaleSlope", name)[0] if raw_slope is not None else 1.0
        intercept = _numbers(raw_intercept, 1, "RescaleIntercept", name)[0] if raw_intercept is not None else 0.0
        if slope == 0:
            raise ConversionError(f"{name}: RescaleSlope is 0, which maps every pixel to one value.")
        yield SeriesImage(label=name, dataset=ds, frame=frame if multi else None, rows=rows, columns=columns,
                     orientation=orientation, position=(position[0], position[1], position[2]),
                     pixel_spacing=(spacing[0], spacing[1]), slope=slope, intercept=intercept,
                     rescaled=raw_slope is not None or raw_intercept is not None, syntax=syntax, padding=padding)


def check_same_geometry(images: list[SeriesImage]) -> None:
    first = images[0]
    for image in images[1:]:
        if (image.rows, image.columns) != (first.rows, first.columns):
            raise ConversionError(
                f"{image.label} is {image.rows} rows x {image.columns} columns where {first.label} is {first.rows} x "
                f"{first.columns}: a volume needs one image size. Remove the odd image(s) or choose another series.")
        if max(abs(a - b) for a, b in zip(image.orientation, first.orientation, strict=True)) > ORIENTATION_TOLERANCE:
            raise ConversionError(
                f"{image.label} has ImageOrientationPatient {vector(image.orientation)} where {first.label} has "
                f"{vector(first.orientation)}: a volume needs one orientation (localizer or reformat mixed in?). "
                "Remove the odd image(s) or choose another series.")
        if max(abs(a - b) for a, b in zip(image.pixel_spacing, first.pixel_spacing, strict=True)) \
                > PIXEL_SPACING_TOLERANCE:
            raise ConversionError(
                f"{image.label} has PixelSpacing {vector(image.pixel_spacing)} mm where {first.label} has "
                f"{vector(first.pixel_spacing)} mm: a volume needs one pixel size. Choose another series.")


def vector(values: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:g}" for v in values) + ")"
