"""The gate's frozen reference sets, in both store backends: one per signature, read back exactly, tamper-evident."""

import dataclasses

import numpy as np
import pytest

from lambda_model.registry.local_store import LocalStore
from lambda_model.registry.store import StoreError
from lambda_model.training.data import load_dataset, parse_csv
from lambda_model.training.reference import (
    LEGACY_REFERENCE_NAME,
    REFERENCE_DIR,
    file_name,
    frozen_reference,
    reference_csv,
)


def rewrite(store, file, content):
    if isinstance(store, LocalStore):
        (store.root / REFERENCE_DIR / file).write_bytes(content)
    else:
        store.client.put_object(Bucket=store.bucket, Key=f"models/{REFERENCE_DIR}/{file}", Body=content)


@pytest.fixture
def iris():
    return load_dataset(None)


def test_the_first_call_freezes_the_seed_and_later_calls_read_it_back_exactly(store, iris):
    file, rows = frozen_reference(store, iris.signature(), iris)
    other_seed = dataclasses.replace(iris, features=iris.features[:10], labels=iris.labels[:10])

    again, rows_again = frozen_reference(store, iris.signature(), other_seed)

    assert again == file
    assert file.startswith(f"holdout-{iris.signature().fingerprint}-")
    np.testing.assert_array_equal(rows.features, iris.features)
    # A later, different seed never replaces the frozen rows.
    np.testing.assert_array_equal(rows_again.labels, iris.labels)


def test_each_signature_has_its_own_set(store, iris):
    two_features = parse_csv(
        b"width,height,kind\n" + b"".join(b"%d,%d,%s\n" % (i, i % 7, b"ab"[i % 2 : i % 2 + 1]) for i in range(20)),
        "two.csv",
        "kind",
    )
    iris_file, _ = frozen_reference(store, iris.signature(), iris)
    other_file, other_rows = frozen_reference(store, two_features.signature(), two_features)
    assert other_file != iris_file
    assert other_rows.feature_names == ("width", "height")
    assert other_rows.classes == ("a", "b")


def test_a_set_frozen_before_signatures_is_adopted_by_the_signature_it_fits(store, iris):
    """Stores upgraded from format 1 keep judging on the rows production was judged on."""
    content = reference_csv(dataclasses.replace(iris, features=iris.features[:30], labels=iris.labels[:30]))
    legacy = file_name(LEGACY_REFERENCE_NAME, content)
    store.create_file(REFERENCE_DIR, legacy, content)

    file, rows = frozen_reference(store, iris.signature(), iris)

    assert file == legacy
    assert len(rows) == 30
    assert store.list_files(REFERENCE_DIR) == [legacy]


def test_a_legacy_set_of_other_columns_is_left_alone(store, iris):
    narrow = b"width,height,species\n1,2,setosa\n"
    store.create_file(REFERENCE_DIR, file_name(LEGACY_REFERENCE_NAME, narrow), narrow)
    file, rows = frozen_reference(store, iris.signature(), iris)
    assert file.startswith("holdout-")
    assert len(rows) == len(iris)


def test_a_reference_set_changed_after_it_was_written_is_refused(store, iris):
    file, _ = frozen_reference(store, iris.signature(), iris)
    rewrite(store, file, b"sepal_length,sepal_width,petal_length,petal_width,species\n1,1,1,1,setosa\n")

    with pytest.raises(StoreError, match="changed after it was written"):
        frozen_reference(store, iris.signature(), iris)
