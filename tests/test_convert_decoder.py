"""JPEG Lossless frames decoded by libjpeg-turbo (curator.ingest.convert_decoder): the same samples as pydicom's
pylibjpeg-libjpeg, frame by frame, and the conversion falls back to pydicom's plugins for a frame it refuses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.pixels.decoders.base import get_decoder
from pydicom.uid import JPEGLossless, JPEGLosslessSV1, RLELossless

from curator.ingest.convert import ConversionError, convert_series
from curator.ingest.convert_decoder import PLUGIN, fast_plugin
from tests.convert_factories import jpeg_lossless, series


def _both(ds: object) -> tuple[np.ndarray, np.ndarray]:
    decoder = get_decoder(JPEGLosslessSV1)
    ours = decoder.as_array(ds, decoding_plugin=PLUGIN)[0]
    theirs = decoder.as_array(ds, decoding_plugin="pylibjpeg")[0]
    return ours, theirs


def test_jpeg_lossless_series_is_decoded_by_libjpeg_turbo_to_the_same_volume() -> None:
    """Regression (issue 15): pylibjpeg-libjpeg took 2.4 of the 5.6 CPU seconds of `curator ingest` on P001."""
    plain = convert_series(series(count=4, rows=7, columns=9))
    packed = [jpeg_lossless(ds) for ds in series(count=4, rows=7, columns=9)]
    volume = convert_series(packed)
    assert fast_plugin(JPEGLosslessSV1) == PLUGIN
    assert fast_plugin(JPEGLossless) == PLUGIN
    assert PLUGIN in get_decoder(JPEGLosslessSV1).available_plugins
    np.testing.assert_array_equal(volume.data, plain.data)
    ours, theirs = _both(packed[2])
    np.testing.assert_array_equal(ours, theirs)


def test_full_16_bit_and_signed_12_bit_samples_agree_with_pylibjpeg() -> None:
    rng = np.random.default_rng(15)
    wide = series(count=1, rows=16, columns=12)[0]
    wide_values = rng.integers(0, 65536, size=(16, 12), dtype=np.uint16)
    ours, theirs = _both(jpeg_lossless(wide, wide_values, precision=16))
    np.testing.assert_array_equal(ours, wide_values)
    np.testing.assert_array_equal(ours, theirs)

    signed = series(count=1, rows=5, columns=6)[0]
    signed.PixelRepresentation, signed.BitsStored, signed.HighBit = 1, 12, 11
    values = np.array([[-2048, -1, 0, 1, 2047, -1000]] * 5, dtype=np.int16)
    ours, theirs = _both(jpeg_lossless(signed, values.astype(np.uint16) & 0x0FFF, precision=12))
    assert ours.dtype == np.int16
    np.testing.assert_array_equal(ours, values)
    np.testing.assert_array_equal(ours, theirs)


def test_a_frame_libjpeg_turbo_refuses_goes_to_pydicoms_plugins() -> None:
    """An 8-bit frame in a 16-bit container: the plugin refuses it, pydicom's plugins are asked and their reason
    (pylibjpeg's, as before the plugin) is the one reported."""
    datasets = series(count=2, rows=5, columns=6)
    jpeg_lossless(datasets[1], np.arange(30, dtype=np.uint8).reshape(5, 6), precision=8)
    with pytest.raises(ConversionError, match=r"instance 2: the pixel data cannot be decoded \(could not broadcast"):
        convert_series(datasets)


def test_other_syntaxes_keep_pydicoms_plugins() -> None:
    assert fast_plugin(RLELossless) == ""
    assert fast_plugin("1.2.840.10008.1.2.4.50") == ""


@pytest.mark.realdata
def test_p001_every_frame_identical_to_pylibjpeg(realdata: Path) -> None:
    folder = realdata / "covid_ct_md_dicom" / "Sample data" / "COVID-19 subjects" / "P001"
    files = sorted(path for path in folder.iterdir() if path.suffix == ".dcm")
    assert len(files) == 148
    for path in files:
        ds = dcmread(path)
        assert ds.file_meta.TransferSyntaxUID == JPEGLosslessSV1
        ours, theirs = _both(ds)
        np.testing.assert_array_equal(ours, theirs)
