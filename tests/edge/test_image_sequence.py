"""Image sequences (a folder of extracted frames, or a glob) played as a video at --input-rate."""

from __future__ import annotations

import numpy as np
import pytest
from edge_helpers import frame_of, write_video

from edge_runtime.sources import ImageSequenceSource, SourceError, classify_uri, open_source

cv2 = pytest.importorskip("cv2")


@pytest.fixture(scope="module")
def frames_dir(tmp_path_factory):
    """36 lossless frames, TSN-style names, and the same frames as a 12 fps mp4."""
    d = tmp_path_factory.mktemp("frames")
    for i in range(36):
        cv2.imwrite(str(d / f"image_{i + 1:05d}.png"), frame_of(i))
    (d / "notes.txt").write_text("not a frame")
    return d


def test_a_folder_or_a_glob_is_an_image_sequence(frames_dir):
    assert classify_uri(str(frames_dir)) == "images"
    assert classify_uri(str(frames_dir / "*.png")) == "images"
    assert classify_uri(str(frames_dir / "image_00001.png")) == "file"


@pytest.mark.parametrize("sps", [0.25, 0.05])
def test_samples_the_frames_a_video_of_them_would_give(frames_dir, tmp_path, sps):
    """The same sampling rule as a video file: each sampled frame is the image the 12 fps clip of
    those frames would give (0.05 s: faster than the frames, an image serves two samples)."""
    video = write_video(tmp_path / "clip.mp4", frames=36, fps=12)
    want = [f.source_index for f in open_source(str(video), sps, quiet=True).frames()]
    src = open_source(str(frames_dir), sps, image_fps=12)
    got = list(src.frames())
    assert [f.source_index for f in got] == want and len(got) == len(want)
    for f in got:
        assert np.array_equal(f.frame, frame_of(f.source_index)[..., ::-1])   # lossless, BGR -> RGB
    assert src.describe()["images"] == 36 and src.describe()["fps"] == 12
    assert src.decoded == len(set(want))        # an image reused for two samples is read once


def test_images_under_a_skip_are_not_read(frames_dir):
    src = open_source(str(frames_dir / "*.png"), 0.25, image_fps=12)
    need = iter([True, False, False] * 10)
    got = list(src.frames(lambda: next(need)))
    assert len(got) == 12 and src.decoded == 4
    assert [f.frame is not None for f in got] == [k % 3 == 0 for k in range(12)]


def test_natural_order(tmp_path):
    for i in (1, 2, 10, 11, 3):
        cv2.imwrite(str(tmp_path / f"f{i}.png"), np.full((4, 4, 3), i, np.uint8))
    src = ImageSequenceSource(str(tmp_path), 0.1, fps=10)
    assert [f.frame[0, 0, 0] for f in src.frames()] == [1, 2, 3, 10, 11]


def test_bad_sequences_say_what_is_wrong(tmp_path, frames_dir):
    with pytest.raises(SourceError, match="a directory with no images .* a video is given by its file"):
        open_source(str(tmp_path), 0.25)
    with pytest.raises(SourceError, match="no images .* match this pattern"):
        open_source(str(frames_dir / "*.jpg"), 0.25)
    with pytest.raises(ValueError, match="frame rate must be a positive number, got 0"):
        open_source(str(frames_dir), 0.25, image_fps=0)
    with pytest.raises(SourceError, match="a capture size applies to cameras .* an image sequence"):
        open_source(str(frames_dir), 0.25, capture_size=(64, 48))
    bad = tmp_path / "broken"
    bad.mkdir()
    for i in range(4):
        cv2.imwrite(str(bad / f"{i}.png"), frame_of(i))
    (bad / "2.png").write_bytes(b"not a png")
    src = open_source(str(bad), 0.1, image_fps=10)
    with pytest.raises(SourceError, match=r"2\.png: cannot read this image"):
        list(src.frames())
