"""NVML sessions: usable on any machine (None where there is no driver), nestable, repeatable."""

from __future__ import annotations

from visionyard.nvml import nvml


def test_nvml_session_nests_and_repeats() -> None:
    for _ in range(3):
        with nvml() as outer, nvml() as inner:
            assert (outer is None) == (inner is None)
    # Still usable after many init/shutdown pairs.
    with nvml() as again:
        assert (again is None) == (outer is None)
