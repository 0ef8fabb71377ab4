"""An image's pixel size from its header, read before anything is decoded.

A decoder allocates what the header declares: a 30 KB PNG can declare 20000x20000 and take
gigabytes before it fails or succeeds. Reading the few header bytes first lets `media`
refuse (or decode downscaled) anything past the pixel budget at no cost. Covers the formats
users drop in (PNG, JPEG, WebP, GIF, BMP, TIFF); anything else answers None and is read
through FFmpeg, whose probe reports the size before decoding.
"""

from __future__ import annotations

import struct

#: JPEG start-of-frame markers (every coding process except DHT/JPG/DAC)
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_SOS, _EOI = 0xDA, 0xD9


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) declared by the image's header, or None when the format is not known
    here or the header is damaged."""
    try:
        if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
            return struct.unpack(">II", data[16:24])
        if data.startswith(b"\xff\xd8"):
            found = _jpeg_scan(data)
            return found[0] if found else None
        if data[:6] in (b"GIF87a", b"GIF89a"):
            return struct.unpack("<HH", data[6:10])
        if data.startswith(b"BM"):
            return _bmp(data)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp(data)
        if data[:4] in (b"II*\x00", b"MM\x00*"):
            return _tiff(data)
    except (struct.error, IndexError, ValueError):
        return None
    return None


def jpeg_is_complete(data: bytes) -> bool:
    """Whether a JPEG's image data ends in its end-of-image marker.

    OpenCV decodes a JPEG cut short without complaint (the rest comes out grey). Entropy-
    coded data cannot hold 0xFFD9, so an EOI after the first scan marks a whole file; an EOI
    inside an EXIF thumbnail does not count, since the walk skips the segments around it.
    """
    found = _jpeg_scan(data)
    return found is not None and data.find(b"\xff\xd9", found[1]) != -1


def _jpeg_scan(data: bytes) -> tuple[tuple[int, int], int] | None:
    """The frame size and the offset of the first scan, walking the marker segments."""
    pos, size = 2, None
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _SOF and size is None:
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            size = (width, height)
        if marker == _SOS:
            return (size, pos + 2 + length) if size else None
        if marker == _EOI or length < 2:
            return None
        pos += 2 + length
    return None


def _bmp(data: bytes) -> tuple[int, int]:
    (header,) = struct.unpack("<I", data[14:18])
    if header == 12:  # OS/2 BITMAPCOREHEADER
        return struct.unpack("<HH", data[18:22])
    width, height = struct.unpack("<ii", data[18:26])
    return abs(width), abs(height)  # a negative height means top-down rows


def _webp(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


def _tiff(data: bytes) -> tuple[int, int] | None:
    order = "<" if data[:2] == b"II" else ">"
    (offset,) = struct.unpack(order + "I", data[4:8])
    (entries,) = struct.unpack(order + "H", data[offset : offset + 2])
    found: dict[int, int] = {}
    for index in range(min(entries, 512)):
        at = offset + 2 + 12 * index
        tag, kind = struct.unpack(order + "HH", data[at : at + 4])
        if tag in (256, 257):
            if kind == 3:  # SHORT
                (found[tag],) = struct.unpack(order + "H", data[at + 8 : at + 10])
            elif kind == 4:  # LONG
                (found[tag],) = struct.unpack(order + "I", data[at + 8 : at + 12])
    if 256 in found and 257 in found:
        return found[256], found[257]
    return None
