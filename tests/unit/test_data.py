import pytest

from lambda_model.training.data import BUNDLED_IRIS, MIN_ROWS_PER_CLASS, DataError, load_dataset, parse_csv

HEADER = "sepal_length,sepal_width,petal_length,petal_width,species\n"
ROWS = "5.1,3.5,1.4,0.2,setosa\n7.0,3.2,4.7,1.4,versicolor\n6.3,3.3,6.0,2.5,virginica\n" * MIN_ROWS_PER_CLASS


def test_the_bundled_iris_data_has_150_rows_and_a_stable_hash():
    first, second = load_dataset(None), load_dataset(BUNDLED_IRIS)
    assert len(first) == 150
    assert first.features.shape == (150, 4)
    assert first.sha256 == second.sha256


def test_a_csv_parses_with_columns_in_any_order_and_blanks_as_missing():
    text = (
        "species,petal_width,petal_length,sepal_width,sepal_length\n"
        + "setosa,0.2,,3.5,5.1\nversicolor,1.4,4.7,3.2,7.0\nvirginica,2.5,6.0,3.3,6.3\n" * MIN_ROWS_PER_CLASS
    )
    dataset = parse_csv(text.encode(), "inline.csv")
    assert dataset.features[0, 0] == 5.1
    assert dataset.features[0, 2] != dataset.features[0, 2]  # NaN: imputed at training time
    assert list(dataset.labels[:3]) == [0, 1, 2]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        (HEADER, "no data rows"),
        ("sepal_length,sepal_width,petal_length,species\n5,3,1,setosa\n", "missing column.*petal_width"),
        (HEADER.replace("\n", ",colour\n") + "5,3,1,0.2,setosa,red\n", "unexpected column.*colour"),
        (HEADER + "5.1,3.5,1.4,0.2,daisy\n", "line 2: unknown species 'daisy'"),
        (HEADER + "5.1,three,1.4,0.2,setosa\n", "line 2, column sepal_width: 'three' is not a number"),
        (HEADER + "5.1,inf,1.4,0.2,setosa\n", "not a finite number"),
        (HEADER + "5.1,3.5,1.4,setosa\n", "4 fields, the header has 5"),
        (HEADER + "5.1,3.5,1.4,0.2,setosa\n", "no rows of species versicolor, virginica"),
        (HEADER + ROWS + "5.1,1e300,1.4,0.2,setosa\n", "line 17, column sepal_width: '1e300' is beyond the float32"),
        (
            HEADER + ROWS.replace(",1.4,", ",,").replace(",4.7,", ",,").replace(",6.0,", ",,"),
            "column petal_length: every value is empty",
        ),
        (HEADER + ROWS[: ROWS.index("virginica") + 10], r"too few rows of species setosa \(1\), versicolor \(1\)"),
    ],
)
def test_bad_csv_files_are_refused_with_the_problem_named(text, message):
    with pytest.raises(DataError, match=message):
        parse_csv(text.encode(), "bad.csv")


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_dataset(str(tmp_path / "absent.csv"))


def test_a_csv_on_s3_is_read(aws):
    import boto3

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="training-data-csv", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    s3.put_object(Bucket="training-data-csv", Key="data/iris.csv", Body=(HEADER + ROWS).encode())
    assert len(load_dataset("s3://training-data-csv/data/iris.csv")) == 3 * MIN_ROWS_PER_CLASS
    with pytest.raises(DataError, match="cannot read"):
        load_dataset("s3://training-data-csv/data/absent.csv")
