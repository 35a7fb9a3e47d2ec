"""JPEG Lossless frames decoded by libjpeg-turbo (``imagecodecs``), as a pydicom decoding plugin.

pydicom decodes JPEG Lossless (Process 14, the syntax of most CT archives) with pylibjpeg-libjpeg, which takes
~16 ms per 512x512 frame here; libjpeg-turbo 3 (``imagecodecs.jpeg8_decode``) takes ~2 ms for the same frame and
gives the same samples (a lossless code has one right answer; tests compare the two decoders frame by frame).
The plugin goes through pydicom's own decoder framework, so the frame's size, sign and bit depth are handled by
pydicom as for any other plugin. It takes monochrome frames only; anything else it refuses, and the caller then
decodes the frame with pydicom's installed plugins (:func:`curator.ingest.convert_pixels._stored`).
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydicom.pixels.decoders.base import DecodeRunner

PLUGIN = "curator-libjpeg-turbo"
JPEG_LOSSLESS = "1.2.840.10008.1.2.4.57"
JPEG_LOSSLESS_SV1 = "1.2.840.10008.1.2.4.70"
SYNTAXES = (JPEG_LOSSLESS, JPEG_LOSSLESS_SV1)
# pydicom's plugin contract: what to install when the plugin is not available
DECODER_DEPENDENCIES = {syntax: ("imagecodecs>=2024.1",) for syntax in SYNTAXES}

_registered: dict[str, bool] = {}
_lock = threading.Lock()


def is_available(uid: str) -> bool:
    """pydicom's plugin contract: True when libjpeg-turbo can decode ``uid`` here."""
    if uid not in SYNTAXES:
        return False
    try:
        import imagecodecs
    except ImportError:
        return False
    return bool(imagecodecs.JPEG8.available)


def decode_frame(src: bytes, runner: DecodeRunner) -> bytes:
    """pydicom's plugin contract: the decoded samples of one frame, in the layout pydicom expects."""
    from imagecodecs import jpeg8_decode

    if runner.samples_per_pixel != 1:
        raise ValueError("only monochrome frames are decoded by this plugin")
    array = jpeg8_decode(src)
    if array.shape != (runner.rows, runner.columns) or array.dtype.itemsize * 8 != runner.bits_allocated:
        raise ValueError(f"decoded {array.shape} {array.dtype} where the header says {runner.rows} x "
                         f"{runner.columns} of {runner.bits_allocated} bits")
    return bytes(array.astype(array.dtype.newbyteorder("<"), copy=False).data)


def fast_plugin(syntax: str) -> str:
    """The label of this plugin when it can decode ``syntax`` here (registering it with pydicom once), else ""."""
    if syntax not in SYNTAXES:
        return ""
    with _lock:
        if syntax not in _registered:
            from pydicom.pixels.decoders.base import get_decoder

            decoder = get_decoder(syntax)
            if PLUGIN not in decoder.available_plugins:
                with contextlib.suppress(ValueError):  # registered before, but not available
                    decoder.add_plugin(PLUGIN, (__name__, "decode_frame"))
            _registered[syntax] = PLUGIN in decoder.available_plugins
    return PLUGIN if _registered[syntax] else ""
