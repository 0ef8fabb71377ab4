"""How the studio writes a time: one function, tested as plain arithmetic."""

from __future__ import annotations

from studio.timecode import FRAMES, TIMECODE, format_frame, timecode


def test_one_second_at_24_fps_is_one_second_of_timecode():
    assert timecode(0, 24) == "00:00:00:00"
    assert timecode(24, 24) == "00:00:01:00"
    assert timecode(23, 24) == "00:00:00:23"
    assert timecode(24 * 61 + 5, 24) == "00:01:01:05"
    assert timecode(24 * 3600, 24) == "01:00:00:00"
    assert timecode(-1, 24) == "-00:00:00:01"


def test_non_integer_rates_count_non_drop_frames_at_the_nominal_rate():
    assert timecode(24, 23.976) == "00:00:01:00"
    assert timecode(30, 29.97) == "00:00:01:00"
    assert timecode(29, 29.97) == "00:00:00:29"
    assert timecode(25 * 60, 25) == "00:01:00:00"


def test_the_preference_chooses_timecode_or_frame_numbers():
    assert format_frame(24, 24, TIMECODE) == "00:00:01:00"
    assert format_frame(24, 24, FRAMES) == "24"
