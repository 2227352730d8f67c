"""The gate's frozen reference set, in both store backends: written once, read back exactly, tamper-evident."""

import numpy as np
import pytest

from lambda_model.registry.store import LocalStore, StoreError
from lambda_model.training.data import load_dataset
from lambda_model.training.reference import REFERENCE_DIR, frozen_reference


def rewrite(store, file, content):
    if isinstance(store, LocalStore):
        (store.root / REFERENCE_DIR / file).write_bytes(content)
    else:
        store.client.put_object(Bucket=store.bucket, Key=f"models/{REFERENCE_DIR}/{file}", Body=content)


def test_the_first_call_freezes_the_seed_and_later_calls_read_it_back_exactly(store):
    iris = load_dataset(None)
    file, rows = frozen_reference(store, "iris", iris)
    other_seed = type(iris)(iris.features[:10], iris.labels[:10], "other", "")

    again, rows_again = frozen_reference(store, "iris", other_seed)

    assert again == file
    assert file.startswith("iris-")
    np.testing.assert_array_equal(rows.features, iris.features)
    # A later, different seed never replaces the frozen rows.
    np.testing.assert_array_equal(rows_again.labels, iris.labels)


def test_a_reference_set_changed_after_it_was_written_is_refused(store):
    iris = load_dataset(None)
    file, _ = frozen_reference(store, "iris", iris)
    rewrite(store, file, b"sepal_length,sepal_width,petal_length,petal_width,species\n1,1,1,1,setosa\n")

    with pytest.raises(StoreError, match="changed after it was written"):
        frozen_reference(store, "iris", iris)
