import numpy as np
import pytest

from train.metrics import average_precision, gmacs_per_frame, mean_average_precision, top1


def test_top1_single_and_multilabel():
    s = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    assert top1(s, np.array([0, 1, 1])) == pytest.approx(200 / 3)
    assert top1(s, np.array([[1, 0], [1, 1], [0, 1]])) == pytest.approx(200 / 3)


def test_average_precision_known_value():
    # ranks: pos, neg, pos -> precisions 1/1 and 2/3 -> AP = (1 + 2/3) / 2
    assert average_precision(np.array([0.9, 0.8, 0.7]), np.array([1, 0, 1])) == pytest.approx(5 / 6)
    s = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    # class 0: positives {0}: AP 1; class 1: positives {1, 2}: ranks 0.8(pos), 0.4(pos)... -> 1
    assert mean_average_precision(s, np.array([0, 1, 1])) == pytest.approx(100.0)


def test_gmacs_per_frame():
    a = np.array([[0, 2, 2, 1]])
    d = np.array([[1, 1, 0, 1]])
    cost = np.array([4.0, 1.0, 0.5])
    assert gmacs_per_frame(a, d, cost)[0] == pytest.approx((4 + 0.5 + 1) / 4)
