import numpy as np
import pytest

from cnnctl.data.labels import class_labels
from cnnctl.errors import CnnctlError


@pytest.mark.parametrize("labels", [np.array([2, 0, 1], np.uint8), np.array([[2], [0], [1]], np.int32),
                                    np.array([2.0, 0.0, 1.0], np.float32), np.array([2, 0, 1], ">i4")])
def test_class_numbers_of_any_integer_type_or_whole_floats(labels):
    out = class_labels(labels, 3, "f")
    assert out.dtype == np.int64 and out.tolist() == [2, 0, 1]


@pytest.mark.parametrize("labels, images, words", [
    (np.array([0, 1]), 3, "expected 3 labels (one per image), found shape (2,)"),
    (np.eye(3), 3, "one-hot labels are not read"),
    (np.array([0, 1.5, 2]), 3, "whole class numbers, found 1.5"),
    (np.array([0, np.nan, 2]), 3, "whole class numbers, found nan"),
    (np.array([0, -1, 2]), 3, "0 or more, found -1"),
    (np.array(["a", "b", "c"]), 3, "class numbers, found <U1 values"),
])
def test_bad_labels_name_the_file(labels, images, words):
    with pytest.raises(CnnctlError) as err:
        class_labels(labels, images, "data/labels.idx")
    assert words in str(err.value) and err.value.file == "data/labels.idx"
