"""Device preprocessing: centre square, and the two resize rules a manifest may name."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge_runtime.preprocess import RESIZE_METHODS, SquareViews, center_square, preprocess, resize_image

RNG = np.random.default_rng(3)


def smooth(n: int, m: int | None = None) -> np.ndarray:
    """A smooth uint8 RGB test image (box filters of smooth images agree to a grey level)."""
    m = m or n
    y, x = np.mgrid[0:n, 0:m].astype(np.float64)
    ch = [128 + 90 * np.sin(x / 37.0 + k) * np.cos(y / 29.0 - k) for k in range(3)]
    return np.clip(np.dstack(ch), 0, 255).round().astype(np.uint8)


def test_centre_square_and_identity():
    f = RNG.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    assert np.array_equal(center_square(f), f[:, 8:56])
    for m in RESIZE_METHODS:
        assert np.array_equal(preprocess(f, 48, m), f[:, 8:56])


def test_pyramid_halves_exactly_like_area_then_one_linear_step():
    img = RNG.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    # 256 -> 128 -> 64: two exact 2x2 means, then 64 -> 48 bilinear
    h1 = cv2.resize(img, (128, 128), interpolation=cv2.INTER_AREA)
    h2 = cv2.resize(h1, (64, 64), interpolation=cv2.INTER_AREA)
    want = cv2.resize(h2, (48, 48), interpolation=cv2.INTER_LINEAR)
    assert np.array_equal(resize_image(img, 48, "pyramid"), want)
    # a power-of-two factor is the area resize itself, up to rounding at each halving
    d = resize_image(img, 64, "pyramid").astype(int) - cv2.resize(img, (64, 64), interpolation=cv2.INTER_AREA)
    assert np.abs(d).max() <= 1
    # odd sides drop their last row/column before halving
    odd = img[:255, :201]
    want = cv2.resize(cv2.resize(odd[:254, :200], (100, 127), interpolation=cv2.INTER_AREA),
                      (84, 84), interpolation=cv2.INTER_LINEAR)
    assert np.array_equal(resize_image(odd, 84, "pyramid"), want)


@pytest.mark.parametrize("src,size", [(256, 48), (480, 84), (720, 224), (300, 128)])
def test_pyramid_is_a_low_pass_close_to_area(src, size):
    img = smooth(src)
    a = resize_image(img, size, "area").astype(int)
    p = resize_image(img, size, "pyramid").astype(int)
    assert p.shape == (size, size, 3)
    assert np.abs(a - p).mean() < 1.5 and np.abs(a - p).max() <= 12


def test_pyramid_does_not_alias_a_fine_grating():
    """A 2-px grating must come out flat grey (linear sampling alone would alias it)."""
    g = np.zeros((512, 512, 3), np.uint8)
    g[:, ::2] = 255
    p = resize_image(g, 84, "pyramid").astype(int)
    assert abs(p.mean() - 127.5) < 1.5 and p.std() < 2.0
    naive = cv2.resize(g, (84, 84), interpolation=cv2.INTER_LINEAR).astype(int)
    assert naive.std() > 20   # what the pyramid avoids


def test_dst_is_filled_and_unknown_method_names_the_choices():
    img = RNG.integers(0, 256, (96, 128, 3), dtype=np.uint8)
    out = np.zeros((2, 32, 32, 3), np.uint8)
    r = resize_image(img, 32, "pyramid", dst=out[1])
    assert np.array_equal(out[1], resize_image(img, 32, "pyramid")) and r is not None
    with pytest.raises(ValueError, match=r"resize='bicubic' is not one of \['area', 'pyramid'\]"):
        resize_image(img, 32, "bicubic")


@pytest.mark.parametrize("method", RESIZE_METHODS)
@pytest.mark.parametrize("shape,sizes", [((256, 256), (48, 128, 224)), ((480, 480), (84, 224, 48, 128)),
                                         ((255, 201), (48, 84, 100)), ((96, 96), (96, 48, 24)),
                                         ((723, 723), (48, 90, 180, 361)),   # odd sides at every halving
                                         ((40, 40), (48, 24))])   # the last: a frame smaller than a view
def test_square_views_equal_separate_resizes_in_any_order(method, shape, sizes):
    img = RNG.integers(0, 256, shape + (3,), dtype=np.uint8)
    for order in (sizes, tuple(reversed(sizes))):
        views = SquareViews(img, method)
        for s in order:
            got = views.get(s)
            assert got.shape == (s, s, 3) and got.dtype == np.uint8
            assert np.array_equal(got, resize_image(img, s, method)), (method, shape, s, order)


def test_square_views_share_the_halvings():
    img = RNG.integers(0, 256, (480, 480, 3), dtype=np.uint8)
    views = SquareViews(img, "pyramid")
    views.get(48)                  # 480 -> 240 -> 120 -> 60, then 60 -> 48
    assert [v.shape[0] for v in views.levels] == [480, 240, 120, 60]
    views.get(128)                 # reuses 240, no new halving
    assert len(views.levels) == 4
    assert SquareViews(img, "area").get(128).shape == (128, 128, 3)
    with pytest.raises(ValueError, match=r"resize='bicubic' is not one of"):
        SquareViews(img, "bicubic")


@pytest.mark.parametrize("shape,sizes", [((300, 256), (48, 256, 128, 64, 32, 100)),
                                         ((255, 255), (40, 127, 63, 255, 31)),
                                         ((256, 200), (24, 50, 100, 25))])
def test_square_views_give_a_halving_of_the_asked_size_as_resize_image_does(shape, sizes):
    # a pyramid view at exactly a halving's size is that halving; the square itself (a crop of a
    # wider frame, not contiguous) comes back as resize_image's contiguous copy
    frame = RNG.integers(0, 256, shape + (3,), dtype=np.uint8)
    square = center_square(frame)
    views = SquareViews(square, "pyramid")
    for s in sizes:
        got = views.get(s)
        want = resize_image(square, s, "pyramid")
        assert np.array_equal(got, want) and got.flags.c_contiguous == want.flags.c_contiguous, (shape, s)
    for s in sizes:   # asked again, now from the levels made
        assert np.array_equal(views.get(s), resize_image(square, s, "pyramid")), (shape, s)
