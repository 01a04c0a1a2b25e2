"""`signage analyze` on a real image and on a video composed from real photos."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from signage.cli import main
from signage.perception.clips import composed_clip, load_sources
from signage.types import AgeBand, Mood

DATA = Path(__file__).parent / "data"


def test_analyze_image_prints_one_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(DATA / "grace_hopper.jpg"), "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    row = json.loads(lines[0])
    assert row["frame"] == 0 and len(row["faces"]) == 1
    face = row["faces"][0]
    assert face["facing"] is True and face["score"] > 0.6
    assert all(isinstance(face[k], float) for k in ("yaw", "pitch", "roll"))
    # on an image the attributes come at once, each with its confidence; no tracking on a single image
    attributes = face["attributes"]
    assert face["track"] is None
    assert attributes["age_band"] in {band.value for band in AgeBand}
    assert attributes["gender"] in {"female", "male", "unknown"} and attributes["mood"] in {m.value for m in Mood}
    assert all(0 < attributes[f"{k}_confidence"] <= 1 for k in ("age", "gender", "mood"))
    assert attributes["age_band"] in {"adult", "senior"}  # Grace Hopper, photographed in her late seventies


def test_analyze_video_prints_one_object_per_frame(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "clip.avi"
    clip = list(composed_clip(load_sources(DATA), seed=5, counts=(0, 2, 1), frames_per_segment=3))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15.0, (640, 480))
    for clip_frame in clip:
        writer.write(clip_frame.frame.image)
    writer.release()
    assert main(["analyze", str(path), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [r["frame"] for r in rows] == list(range(len(clip)))
    assert [len(r["faces"]) for r in rows] == [len(c.truth) for c in clip]


def test_analyze_video_tracks_faces_and_describes_each_track_once_seen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "clip.avi"
    clip = list(composed_clip(load_sources(DATA), seed=5, counts=(2,), frames_per_segment=12))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15.0, (640, 480))
    for clip_frame in clip:
        writer.write(clip_frame.frame.image)
    writer.release()
    assert main(["analyze", str(path), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    last = rows[-1]["faces"]
    assert len(last) == 2
    tracks = [face["track"] for face in last]
    assert all(isinstance(t, int) for t in tracks) and len(set(tracks)) == 2
    assert all(face["attributes"] is not None and face["attributes"]["age_band"] for face in last)
    # a face keeps its track id from frame to frame
    seen = {face["track"] for row in rows for face in row["faces"] if face["track"] is not None}
    assert seen == set(tracks)


def test_analyze_unreadable_path_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "not-a-video.mp4"
    bad.write_text("hello")
    assert main(["analyze", str(bad)]) == 2
    assert "not-a-video.mp4" in capsys.readouterr().err
