import pytest

from lambda_model.training.data import BUNDLED_IRIS, MIN_ROWS_PER_CLASS, DataError, load_dataset, parse_csv

HEADER = "sepal_length,sepal_width,petal_length,petal_width,species\n"
ROWS = "5.1,3.5,1.4,0.2,setosa\n7.0,3.2,4.7,1.4,versicolor\n6.3,3.3,6.0,2.5,virginica\n" * MIN_ROWS_PER_CLASS


def test_the_bundled_iris_data_has_150_rows_and_a_stable_hash():
    first, second = load_dataset(None), load_dataset(BUNDLED_IRIS)
    assert len(first) == 150
    assert first.features.shape == (150, 4)
    assert first.sha256 == second.sha256


def test_the_bundled_iris_data_keeps_the_seeds_names():
    signature = load_dataset(None).signature()
    assert signature.names == ("sepal_length", "sepal_width", "petal_length", "petal_width")
    assert signature.classes == ("setosa", "versicolor", "virginica")


def test_features_are_the_other_columns_in_file_order_and_blanks_are_missing():
    text = (
        "species,petal_width,petal_length,sepal_width,sepal_length\n"
        + "setosa,0.2,,3.5,5.1\nversicolor,1.4,4.7,3.2,7.0\nvirginica,2.5,6.0,3.3,6.3\n" * MIN_ROWS_PER_CLASS
    )
    dataset = parse_csv(text.encode(), "inline.csv")
    assert dataset.feature_names == ("petal_width", "petal_length", "sepal_width", "sepal_length")
    assert dataset.features[0, 3] == 5.1
    assert dataset.features[0, 1] != dataset.features[0, 1]  # NaN: imputed at training time
    assert list(dataset.labels[:3]) == [0, 1, 2]


def test_any_numeric_table_with_a_named_label_column_and_two_or_more_classes():
    rows = "".join(
        f"{age},{income / 10},{'yes' if age % 3 else 'no'}\n"
        for age, income in zip(range(20, 50), range(30), strict=True)
    )
    dataset = parse_csv(("age,income,churned\n" + rows).encode(), "churn.csv", "churned")
    assert dataset.feature_names == ("age", "income")
    assert dataset.classes == ("no", "yes")  # sorted distinct labels
    assert dataset.label_column == "churned"
    signature = dataset.signature()
    assert [(f.name, f.minimum, f.maximum) for f in signature.features] == [("age", 20, 49), ("income", 0, 2.9)]
    assert signature.example_record() == {"age": 20.0, "income": 0.0}


def test_the_input_example_is_the_first_row_without_a_missing_value():
    text = "a,b,label\n,1,x\n2,,y\n" + "3,4,x\n5,6,y\n" * MIN_ROWS_PER_CLASS
    assert parse_csv(text.encode(), "gaps.csv", "label").signature().example_record() == {"a": 3.0, "b": 4.0}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        (HEADER, "no data rows"),
        ("a,b\n1,2\n", r"line 1: no label column 'species' \(columns: a, b\); name it with --label"),
        ("species\nsetosa\n", "only the label column"),
        (HEADER.replace("sepal_width", "sepal width"), "line 1, column 2: feature name 'sepal width' must start"),
        (HEADER.replace("sepal_width", "2nd"), "line 1, column 2: feature name '2nd' must start with a letter"),
        (HEADER.replace("sepal_width", ""), "line 1, column 2: feature name '' is empty"),
        (HEADER.replace("sepal_width", "x" * 65), "is 65 characters long; the limit is 64"),
        (HEADER.replace("sepal_width", "sepal_length"), "column.*sepal_length appear more than once"),
        (HEADER + "5.1,three,1.4,0.2,setosa\n", "line 2, column sepal_width: 'three' is not a number"),
        (HEADER + "5.1,inf,1.4,0.2,setosa\n", "line 2, column sepal_width: 'inf' is not a finite number"),
        (HEADER + "5.1,3.5,1.4,setosa\n", "line 2: 4 fields, the header has 5"),
        (HEADER + "5.1,3.5,1.4,0.2,\n", "line 2, column species: the label '' is empty"),
        (
            HEADER + "5.1,3.5,1.4,0.2,setosa\n4.9,3.0,1.3,0.3,setosa\n",
            "column species: only the class 'setosa'; at least two are needed",
        ),
        (HEADER + ROWS + "5.1,1e300,1.4,0.2,setosa\n", "line 17, column sepal_width: '1e300' is beyond the float32"),
        (
            HEADER + ROWS.replace(",1.4,", ",,").replace(",4.7,", ",,").replace(",6.0,", ",,"),
            "column petal_length: every value is empty",
        ),
        (
            HEADER + ROWS.replace("3.5,", "3,").replace("3.2,", "3,").replace("3.3,", "3,"),
            "column sepal_width: every value is 3; a constant",
        ),
        (
            HEADER + ROWS[: ROWS.index("virginica") + 10],
            r"too few rows of class setosa \(1\), versicolor \(1\), virginica \(1\)",
        ),
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
