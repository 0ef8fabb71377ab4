"""What Kinema delivers in: each codec's encoder, container, pixel format and legal sizes.

One table, `CODECS`, names every output a user can pick (`kinema render --codec NAME`, the
studio's Export dialog): H.264 and H.265 with CRF and preset for players; ProRes 422 HQ and
4444 and DNxHR HQ and HQX in MOV for editors; VP9 and AV1 in WebM (or MP4) for the web; PNG
and 16-bit TIFF image sequences for finishing. All of them encode through PyAV's FFmpeg.

A codec never makes a render crash on a size it dislikes: `legal_frame` says how a frame of
any size becomes one the encoder takes (an edge-replicated row or column for chroma
subsampling; an exact integer upscale to DNxHR's 256x120 minimum), with a note the user
reads. This module only describes; `engine.media` encodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import ceil

from .errors import MediaError

#: x264's preset names; every codec with a speed setting takes them (mapped per encoder)
PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
)
# the same names as SVT-AV1 presets (13 fastest .. 0 best) and libvpx cpu-used (8 .. 0)
_SVT_PRESET = dict(zip(PRESETS, (13, 12, 11, 10, 9, 8, 6, 4, 2)))
_VPX_CPU_USED = dict(zip(PRESETS, (8, 7, 6, 5, 4, 3, 2, 1, 0)))

#: container FFmpeg muxes for each writable video extension
MUXERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".webm": "webm", ".mkv": "matroska"}


@dataclass(frozen=True)
class Codec:
    """One delivery format; `name` is what `--codec` takes."""

    name: str
    label: str  # what the Export dialog shows
    encoder: str  # FFmpeg encoder
    pix_fmt: str  # what is fed to the encoder
    extensions: tuple[str, ...]  # containers it goes in, the usual first; () = image sequence
    options: dict[str, str] = field(default_factory=dict)  # fixed encoder options
    profile: str = ""  # the profile ffprobe reports, "" when it reports none
    crf: tuple[int, int, int] | None = None  # (best, worst, default) quality, None: fixed rate
    default_preset: str = ""  # "" when the encoder has no speed setting
    min_size: tuple[int, int] = (1, 1)  # the smallest width, height the encoder takes
    note: str = ""  # who it is for, one line

    @property
    def sequence(self) -> bool:
        """True for image sequences: the output is a folder of numbered files."""
        return not self.extensions

    @property
    def image_ext(self) -> str:
        return {"png": ".png", "tiff": ".tif"}[self.encoder]

    @property
    def chroma(self) -> tuple[int, int]:
        """Horizontal and vertical chroma subsampling: (2, 2) for 4:2:0, (2, 1) 4:2:2."""
        if self.pix_fmt.startswith("yuv420"):
            return 2, 2
        if self.pix_fmt.startswith("yuv422"):
            return 2, 1
        return 1, 1

    def encoder_options(self, crf: int | None = None, preset: str | None = None) -> dict[str, str]:
        """The options FFmpeg gets, quality and speed included; `MediaError` for bad ones."""
        options = dict(self.options)
        if crf is not None and self.crf is None:
            raise MediaError(f"{self.label} has a fixed quality: it takes no CRF.")
        if preset and not self.default_preset:
            raise MediaError(f"{self.label} has no speed preset.")
        if self.crf is not None:
            best, worst, default = self.crf
            crf = default if crf is None else crf
            if isinstance(crf, bool) or not isinstance(crf, int) or not best <= crf <= worst:
                raise MediaError(f"{self.label} takes a CRF from {best} to {worst}, got {crf}.")
            options["crf"] = str(crf)
        if self.default_preset:
            preset = preset or self.default_preset
            if preset not in PRESETS:
                raise MediaError(f"Unknown preset '{preset}' (use one of {', '.join(PRESETS)}).")
            if self.encoder == "libsvtav1":
                options["preset"] = str(_SVT_PRESET[preset])
            elif self.encoder == "libvpx-vp9":
                options["cpu-used"] = str(_VPX_CPU_USED[preset])
            else:
                options["preset"] = preset
        return options

    def legal_frame(self, width: int, height: int) -> tuple[int, int, int, list[str]]:
        """How a `width` x `height` frame becomes legal: (scale, padded width, height, notes).

        The frame is first scaled by the whole number `scale` (1 unless the encoder has a
        minimum size), then padded on the right and bottom to the chroma grid.
        """
        notes = []
        scale = max(1, ceil(self.min_size[0] / width), ceil(self.min_size[1] / height))
        if scale > 1:
            notes.append(
                f"{self.label} needs at least {self.min_size[0]}x{self.min_size[1]}: "
                f"the {width}x{height} frames are scaled {scale}x to "
                f"{width * scale}x{height * scale}."
            )
        w, h = width * scale, height * scale
        sub_x, sub_y = self.chroma
        padded_w, padded_h = w + (-w) % sub_x, h + (-h) % sub_y
        if (padded_w, padded_h) != (w, h):
            notes.append(
                f"{self.label} stores colour at half resolution, so {w}x{h} is padded to "
                f"{padded_w}x{padded_h} by repeating the last "
                f"{'column' if padded_w != w else 'row'}{' and row' if padded_w != w and padded_h != h else ''}."
            )
        return scale, padded_w, padded_h, notes


def _codecs(*codecs: Codec) -> dict[str, Codec]:
    return {c.name: c for c in codecs}


CODECS: dict[str, Codec] = _codecs(
    Codec(
        "h264",
        "H.264 (MP4)",
        "libx264",
        "yuv420p",
        (".mp4", ".mov", ".m4v", ".mkv"),
        crf=(0, 51, 18),
        default_preset="medium",
        note="plays everywhere",
    ),
    Codec(
        "h265",
        "H.265 / HEVC (MP4)",
        "libx265",
        "yuv420p",
        (".mp4", ".mov", ".mkv"),
        options={"x265-params": "log-level=error"},
        profile="Main",
        crf=(0, 51, 20),
        default_preset="medium",
        note="half the size of H.264 at the same quality",
    ),
    Codec(
        "prores-hq",
        "Apple ProRes 422 HQ (MOV)",
        "prores_ks",
        "yuv422p10le",
        (".mov",),
        options={"profile": "hq", "vendor": "apl0"},
        profile="HQ",
        note="the editor's intermediate: 10-bit 4:2:2, every frame a key frame",
    ),
    Codec(
        "prores-4444",
        "Apple ProRes 4444 (MOV)",
        "prores_ks",
        "yuv444p10le",
        (".mov",),
        options={"profile": "4444", "vendor": "apl0"},
        profile="4444",
        note="full-resolution colour, for grading and compositing",
    ),
    Codec(
        "dnxhr-hq",
        "Avid DNxHR HQ (MOV)",
        "dnxhd",
        "yuv422p",
        (".mov",),
        options={"profile": "dnxhr_hq"},  # a stream option: the context's profile field fails
        profile="DNXHR HQ",
        min_size=(256, 120),
        note="Avid's intermediate, 8-bit 4:2:2",
    ),
    Codec(
        "dnxhr-hqx",
        "Avid DNxHR HQX (MOV)",
        "dnxhd",
        "yuv422p10le",
        (".mov",),
        options={"profile": "dnxhr_hqx"},
        profile="DNXHR HQX",
        min_size=(256, 120),
        note="Avid's intermediate, 10-bit 4:2:2",
    ),
    Codec(
        "vp9",
        "VP9 (WebM)",
        "libvpx-vp9",
        "yuv420p",
        (".webm", ".mp4", ".mkv"),
        options={"b": "0", "row-mt": "1", "deadline": "good"},  # constant quality
        profile="Profile 0",
        crf=(0, 63, 31),
        default_preset="medium",
        note="for the web, royalty-free",
    ),
    Codec(
        "av1",
        "AV1 (WebM)",
        "libsvtav1",
        "yuv420p",
        (".webm", ".mp4", ".mkv"),
        profile="Main",
        crf=(0, 63, 30),
        default_preset="medium",
        note="the smallest files for the web",
    ),
    # PNG's and TIFF's defaults changed between FFmpeg releases: say them, so files (and
    # the bench against the ffmpeg command line) do not depend on the release
    Codec(
        "png",
        "PNG sequence",
        "png",
        "rgb24",
        (),
        options={"pred": "paeth", "compression_level": "1"},  # fast; 10 % over the best
        note="8-bit lossless frames in a folder",
    ),
    Codec(
        "tiff16",
        "16-bit TIFF sequence",
        "tiff",
        "rgb48le",
        (),
        options={"compression_algo": "packbits"},  # what every TIFF reader must read
        note="16-bit lossless frames in a folder, for finishing",
    ),
)


def get_codec(name: str) -> Codec:
    """The codec called `name`; `MediaError` listing the known ones otherwise."""
    try:
        return CODECS[name]
    except KeyError:
        raise MediaError(f"Unknown codec '{name}'; Kinema writes {', '.join(CODECS)}.") from None


def codec_for_path(path, codec: str | None = None) -> Codec:
    """The codec for an output path: `codec` if given (checked against the extension), else
    what the extension implies (.mp4/.mov/.m4v/.mkv: H.264, .webm: VP9, none: PNG frames)."""
    suffix = path.suffix.lower()
    if codec is None:
        if not suffix:
            return CODECS["png"]
        if suffix == ".webm":
            return CODECS["vp9"]
        if suffix in MUXERS:
            return CODECS["h264"]
        raise MediaError(
            f"Could not write '{path.name}': Kinema writes video as "
            f"{', '.join(MUXERS)}, or frames into a folder, not '{suffix}'."
        )
    chosen = get_codec(codec)
    if chosen.sequence and suffix:
        raise MediaError(
            f"Could not write '{path.name}': a {chosen.label} goes into a folder; "
            "give a folder name without an extension."
        )
    if not chosen.sequence and suffix not in chosen.extensions:
        raise MediaError(
            f"Could not write '{path.name}': {chosen.label} goes in a "
            f"{' or '.join(chosen.extensions)} file, not '{suffix or 'no extension'}'."
        )
    return chosen
