"""Files that carry identifying metadata outside DICOM, for the non-DICOM privacy audit's tests: NIfTI header text
and extensions, gzip FNAME/MTIME, PNG text and tIME chunks, JPEG comments, xlsx and PDF document properties."""

from __future__ import annotations

import gzip
import io
import struct
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
import openpyxl
import pydicom
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset

from tests.factories import DEFAULT_AFFINE


def dicom_payload(**elements: str) -> bytes:
    dataset = pydicom.Dataset()
    for keyword, value in elements.items():
        setattr(dataset, keyword, value)
    handle = DicomBytesIO()
    handle.is_little_endian, handle.is_implicit_VR = True, True
    write_dataset(handle, dataset)
    return handle.getvalue()


def planted_nifti(data: np.ndarray, affine: np.ndarray = DEFAULT_AFFINE, *,
                  extensions: tuple[tuple[int, bytes], ...] = (), **text: str) -> bytes:
    """A NIfTI-1 file with text in its header fields and raw header extensions (code, payload)."""
    image = nib.Nifti1Image(data, affine)
    header = image.header
    header.set_qform(affine, code=1)
    header.set_sform(affine, code=1)
    header.set_data_dtype(data.dtype)
    for name, value in text.items():
        header[name] = value.encode()
    blob = b""
    for code, payload in extensions:
        size = -(-(len(payload) + 8) // 16) * 16
        blob += struct.pack("<ii", size, code) + payload + b"\x00" * (size - 8 - len(payload))
    header["vox_offset"] = 352 + len(blob)
    flag = b"\x01\x00\x00\x00" if extensions else b"\x00" * 4
    return header.binaryblock + flag + blob + np.asarray(data).tobytes(order="F")


def write_gz(path: Path, payload: bytes, name: str = "", mtime: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as raw, gzip.GzipFile(filename=name, mode="wb", fileobj=raw, mtime=mtime) as z:
        z.write(payload)
    return path


def png_with_chunks(path: Path, text: dict[str, str], time_chunk: bool = True, trailing: bytes = b"") -> Path:
    info = PngInfo()
    for key, value in text.items():
        info.add_text(key, value)
    raw = io.BytesIO()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(raw, "PNG", pnginfo=info)
    data = raw.getvalue()
    if time_chunk:  # Pillow does not write tIME: put one after IHDR (8 + 25 bytes)
        body = struct.pack(">HBBBBB", 2020, 4, 28, 10, 11, 12)
        chunk = struct.pack(">I", len(body)) + b"tIME" + body + struct.pack(">I", zlib.crc32(b"tIME" + body))
        data = data[:33] + chunk + data[33:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data + trailing)
    return path


def jpeg_with_comment(path: Path, comment: str, trailing: bytes = b"") -> Path:
    raw = io.BytesIO()
    Image.fromarray(np.full((8, 8), 128, np.uint8)).save(raw, "JPEG", comment=comment.encode())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw.getvalue() + trailing)
    return path


def xlsx_with_creator(path: Path, creator: str, modified_by: str, cell: str = "x") -> Path:
    book = openpyxl.Workbook()
    book.properties.creator = creator
    book.properties.lastModifiedBy = modified_by
    book.active.append(["note", cell])
    book.save(path)
    return path


def minimal_pdf(path: Path, author: str) -> Path:
    hex_author = (b"\xfe\xff" + author.encode("utf-16-be")).hex().upper()
    path.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n"
                     b"2 0 obj << /Author <" + hex_author.encode() + b"> /Creator (Microsoft\\256 Word 2016)"
                     b" /Producer (Skia/PDF m90) >> endobj\ntrailer << /Root 1 0 R /Info 2 0 R >>\n%%EOF\n")
    return path


def name_in_nifti(path: Path, name: str = "IVANOV^PETR") -> Path:
    """Rewrite the ``.nii.gz`` at ``path`` (same voxels and affine) with a patient's name and birth date in its
    descrip and a DICOM header extension (code 2) naming the patient, as a converter that kept them leaves it."""
    image = nib.load(path)
    blob = planted_nifti(np.asanyarray(image.dataobj), image.affine,
                         extensions=((2, dicom_payload(PatientName=name)),), descrip=f"{name} 1961-03-05")
    path.write_bytes(gzip.compress(blob, mtime=0))
    return path
