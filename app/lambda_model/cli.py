"""`python -m lambda_model`: train, predict, serve, invoke, gate, report, drift, monitor, promote, export, versions,
openapi.

Training modules import scikit-learn, so they are imported inside the commands that need them:
`predict`, `serve` and `invoke` start as fast as the Lambda function does.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lambda_model.registry.store import default_model_uri, default_store_uri


class UsageError(Exception):
    """A command-line problem the user can fix; printed without a traceback, exit code 2."""


def _checked_number(convert: Callable[[str], Any], noun: str, accept: Callable[[Any], bool], requirement: str):
    """An argparse type: the text as `convert` reads it, refused unless `accept` holds, in one line either way."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not {requirement}")
        return value

    return parse


# A gate threshold. NaN compares false both ways, so a range test written as "accept" refuses it, where a
# test for "outside the range" would let it (and with it every model) through.
share = _checked_number(float, "a number", lambda value: 0 <= value <= 1, "a finite number within [0, 1]")
positive = _checked_number(float, "a number", lambda value: 0 < value < math.inf, "a finite number above 0")
positive_count = _checked_number(int, "a whole number", lambda value: value >= 1, "at least 1")
# $PORT reaches here as --port's default, so a bad value is reported like a bad --port.
port_number = _checked_number(
    int, "a port number (1-65535)", lambda value: 1 <= value <= 65535, "a port number (1-65535)"
)


def writable_file(path: str | None, option: str) -> None:
    """Refuse an output path that cannot be written, before any work (or any promotion) is done."""
    if not path:
        return
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"{option} {path} is a folder; give a file")
    parent = target.parent
    if not parent.is_dir():
        raise UsageError(f"{option} {path}: the folder {parent} does not exist")
    if not os.access(target if target.exists() else parent, os.W_OK):
        raise UsageError(f"{option} {path} cannot be written (permission denied)")


def local_folder(path: str, option: str) -> None:
    """Refuse a local folder argument that is a file, or that could not be created or written."""
    if path.startswith("s3://"):
        return
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{option} {path} is a file, not a folder")
    existing = next(parent for parent in (folder, *folder.parents) if parent.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK):
        raise UsageError(f"{option} {path} cannot be created or written here (permission denied on {existing})")


def command_train(args: argparse.Namespace) -> int:
    from lambda_model.training.pipeline import parse_parameters
    from lambda_model.training.train import train

    # Checked first: a summary that cannot be written must not fail after a version was stored and promoted.
    writable_file(args.summary_json, "--summary-json")
    local_folder(args.store, "--store")
    result = train(
        args.data, args.store, parse_parameters(args.param), promote=not args.no_promote, label_column=args.label
    )
    if args.summary_json:
        Path(args.summary_json).write_text(json.dumps(result.summary(), indent=2) + "\n")
    return 0


def command_predict(args: argparse.Namespace) -> int:
    from lambda_model.serving.offline import print_predictions

    print_predictions(args.json, args.model)
    return 0


def command_serve(args: argparse.Namespace) -> int:
    os.environ["MODEL_URI"] = args.model  # read by the handler when it is imported below
    from lambda_model.serving.local_api import make_server, serve

    try:
        server = make_server(args.host, args.port)
    except OSError as error:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {error.strerror}; set PORT or --port") from None
    serve(server)
    return 0


def command_invoke(args: argparse.Namespace) -> int:
    os.environ["MODEL_URI"] = args.model
    from lambda_model.serving.handler import handler

    try:
        event = json.loads(Path(args.event).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise UsageError(f"cannot read the event {args.event}: {error}") from None
    print(json.dumps(handler(event), indent=2))
    return 0


def report_folder(path: str | None, option: str) -> None:
    """A report's folder: local (the pictures are opened from disk or uploaded from it), creatable, writable."""
    if path is None:
        return
    if "://" in path:
        raise UsageError(f"{option} {path}: a report is written to a local folder, not a URL")
    local_folder(path, option)


def gate_report(args: argparse.Namespace) -> Any:
    """The gate's computation as `gate` and `report` both run it: one source for the verdict and the report."""
    from lambda_model.training.gate import run_gate

    return run_gate(
        args.candidate,
        args.baseline,
        args.data,
        args.min_accuracy,
        args.max_regression,
        args.max_disagreement,
        allow_signature_change=args.allow_signature_change,
        label_column=args.label,
    )


def write_retrain_report(report: Any, folder: str | None, summary_md: str | None) -> None:
    """The report of a gate's run (when a folder is given), then the job summary: the report's tables and
    charts, which hold the gate's own table, or that table alone without a report."""
    summary = report.markdown
    if folder:
        from lambda_model.reporting.retrain import write_report

        written = write_report(report, Path(folder))
        print(f"Wrote {written.markdown}, {written.html} and {len(written.pictures)} pictures.")
        summary = written.summary.read_text(encoding="utf-8")
    if summary_md:
        with open(summary_md, "a", encoding="utf-8") as file:
            file.write(summary)


def command_gate(args: argparse.Namespace) -> int:
    writable_file(args.summary_md, "--summary-md")
    writable_file(args.pointer_tag_output, "--pointer-tag-output")
    report_folder(args.report, "--report")
    report = gate_report(args)
    print(report.markdown)
    write_retrain_report(report, args.report, args.summary_md)
    if args.pointer_tag_output and report.pointer_tag is not None:
        with open(args.pointer_tag_output, "a", encoding="utf-8") as output:
            output.write(f"pointer-tag={report.pointer_tag}\n")
    return 0 if report.result.passed else 1


def command_report(args: argparse.Namespace) -> int:
    report_folder(args.out, "--out")
    writable_file(args.summary_md, "--summary-md")
    write_retrain_report(gate_report(args), args.out, args.summary_md)
    return 0


def command_drift(args: argparse.Namespace) -> int:
    from lambda_model.monitoring.drift import Thresholds
    from lambda_model.monitoring.inputs import drift_of_csv
    from lambda_model.registry.loaded_model import LoadedModel
    from lambda_model.registry.store import resolve_model

    writable_file(args.summary_md, "--summary-md")
    report_folder(args.report, "--report")
    thresholds = Thresholds(psi_act=args.psi_threshold, min_records=args.min_records)
    model = LoadedModel(resolve_model(args.model))
    report = drift_of_csv(model, args.data, thresholds, args.label)
    print(report.markdown())
    if args.summary_md:
        with open(args.summary_md, "a", encoding="utf-8") as summary:
            summary.write(report.markdown())
    if args.report:
        from lambda_model.reporting.drift import write_report

        if model.baseline is not None:  # drift_of_csv refused a model without one already
            written = write_report(report, model.version, model.signature, model.baseline, args.data, Path(args.report))
            print(f"Wrote {written.markdown}, {written.html} and {len(written.pictures)} pictures.")
    if not report.judged:
        print(f"error: {report.verdict()}", file=sys.stderr)
    return report.exit_code


def command_monitor(args: argparse.Namespace) -> int:
    from lambda_model.monitoring.drift import Thresholds
    from lambda_model.monitoring.live import monitor, parse_windows

    writable_file(args.summary_md, "--summary-md")
    report_folder(args.report, "--report")
    try:
        windows = parse_windows(args.window)
    except ValueError as error:
        raise UsageError(f"--window {args.window}: {error}") from None
    from lambda_model.serving import metrics

    thresholds = Thresholds(psi_act=args.psi_threshold, min_records=args.min_records)
    report = monitor(args.store, args.namespace or metrics.namespace(), windows, thresholds)
    print(report.markdown())
    if args.summary_md:
        with open(args.summary_md, "a", encoding="utf-8") as summary:
            summary.write(report.markdown())
    if args.report:
        from lambda_model.reporting.drift import write_monitor_report

        written = write_monitor_report(report, Path(args.report))
        print(f"Wrote {written.markdown}, {written.html} and {len(written.pictures)} pictures.")
    if report.exit_code == 2:
        print(f"error: cannot judge: {report.verdict()}", file=sys.stderr)
    return report.exit_code


def command_promote(args: argparse.Namespace) -> int:
    from lambda_model.registry.store import open_store

    store = open_store(args.store)
    store.promote(args.version, if_pointer=args.if_pointer or None)
    print(f"Promoted {args.version}: {store.uri}/current now names it.")
    return 0


def command_export(args: argparse.Namespace) -> int:
    from lambda_model.registry.artifact import export
    from lambda_model.registry.store import resolve_model

    if "://" in args.to:
        raise UsageError(f"--to {args.to}: export writes a local folder (the image's build context), not a URL")
    local_folder(args.to, "--to")
    metadata = export(resolve_model(args.model), Path(args.to))
    print(f"Exported version {metadata['version']} to {args.to}.")
    return 0


def command_versions(args: argparse.Namespace) -> int:
    from lambda_model.registry.store import open_store

    writable_file(args.pointer_tag_output, "--pointer-tag-output")
    store = open_store(args.store)
    if not args.store.startswith("s3://") and not Path(args.store).is_dir():
        raise UsageError(f"--store {args.store}: no such folder (an empty store is an existing folder)")
    # The tag before the version it names: should the pointer move in between, the recorded tag is the older
    # one, so a later `promote --if-pointer` or comparison refuses instead of trusting a version never read.
    tag = store.pointer_tag()
    current = store.current_version()
    if args.pointer_tag_output:
        with open(args.pointer_tag_output, "a", encoding="utf-8") as output:
            output.write(f"pointer-tag={tag}\n")
    for version in store.versions():
        print(f"{'*' if version == current else ' '} {version}")
    return 0


def command_openapi(args: argparse.Namespace) -> int:
    from lambda_model.serving.openapi import document
    from lambda_model.serving.predictor import Predictor
    from lambda_model.serving.routes import ROUTES

    spec = document(Predictor.from_uri(args.model), ROUTES)
    if args.out and args.out.endswith(".json"):
        text = json.dumps(spec, indent=2) + "\n"
    else:
        text = OPENAPI_YAML_HEADER + as_yaml(spec)
    if args.out:
        try:
            Path(args.out).write_text(text, encoding="utf-8")
        except OSError as error:
            raise UsageError(f"cannot write {args.out}: {error.strerror}") from None
        print(f"Wrote the OpenAPI document of signature {spec['info']['version']} to {args.out}.")
    else:
        sys.stdout.write(text)
    return 0


def as_yaml(document: dict[str, Any]) -> str:
    """Readable YAML: multi-line text as `|` blocks, and no anchors where two places share an example."""
    import yaml  # training and development only: the image serves JSON

    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

    Dumper.add_representer(str, text)
    return yaml.dump(document, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=110)


OPENAPI_YAML_HEADER = (
    "# Generated by `python -m lambda_model openapi --model <store> --out docs/openapi.yaml` from the model's\n"
    "# signature; do not edit by hand (tests/unit/test_openapi.py keeps it in sync with the default model).\n"
)


def add_drift_thresholds(command: argparse.ArgumentParser, min_records_help: str) -> None:
    """What `drift` and `monitor` judge by: the same options, so the CLI and the daily monitor agree."""
    command.add_argument(
        "--psi-threshold", type=positive, default=0.25, help="PSI from which a feature has drifted (0.25)"
    )
    command.add_argument("--min-records", type=positive_count, default=500, help=min_records_help)


def add_gate_arguments(parser: argparse.ArgumentParser, min_accuracy_default: float | None = None) -> None:
    """The gate's inputs and thresholds, the same for `gate` and `report`, so a report judges as the gate does."""
    parser.add_argument("--candidate", required=True, help="model URI of the candidate version")
    parser.add_argument(
        "--baseline",
        help="production's store; only an existing store without `current` counts as none, anything unreadable fails",
    )
    parser.add_argument("--data", help="the data the hold-out is drawn from (default: the bundled iris data)")
    parser.add_argument("--label", help="the data's label column (default: the one the candidate was trained with)")
    parser.add_argument(
        "--allow-signature-change",
        action="store_true",
        help="release a candidate whose features or classes differ from production's (an API change)",
    )
    parser.add_argument(
        "--min-accuracy",
        type=share,
        required=min_accuracy_default is None,
        default=min_accuracy_default,
        help="lowest acceptable hold-out accuracy, 0-1" + ("" if min_accuracy_default is None else " (%(default)s)"),
    )
    parser.add_argument("--max-regression", type=share, default=0.0, help="largest allowed drop below production, 0-1")
    parser.add_argument(
        "--max-disagreement",
        type=share,
        default=0.05,
        help="largest share of reference rows where candidate and production may predict differently (0.05)",
    )


def build_parser() -> argparse.ArgumentParser:
    from lambda_model.serving import offline

    parser = argparse.ArgumentParser(
        prog="python -m lambda_model", description=__doc__.split("\n\n")[0].replace("\n", " ")
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    train = add("train", command_train, "Train, evaluate and store a new model version.")
    train.add_argument("--data", help="CSV file or s3://bucket/key.csv (default: the iris data scikit-learn ships)")
    train.add_argument(
        "--label",
        help="the CSV's label column; every other column is a numeric feature (default: species)",
    )
    train.add_argument(
        "--store", default=default_store_uri(), help="local folder or s3://bucket/prefix (default: %(default)s)"
    )
    train.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="a model parameter, repeatable"
    )
    train.add_argument("--no-promote", action="store_true", help="store the version without making it current")
    train.add_argument("--summary-json", metavar="FILE", help="write version, URI and metrics as JSON")

    predict = add("predict", command_predict, "Predict one JSON record (or an array of them) from the command line.")
    offline.add_arguments(predict)

    serve = add("serve", command_serve, "Serve the Lambda handler as a local HTTP API.")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument(
        "--port", type=port_number, default=os.environ.get("PORT") or "8080", help="default: $PORT or 8080"
    )
    serve.add_argument("--model", default=default_model_uri(), help="model URI (default: %(default)s)")

    invoke = add("invoke", command_invoke, "Run the Lambda handler once on an event file and print its response.")
    invoke.add_argument("event", help="a JSON event file, e.g. tests/events/direct_invoke.json")
    invoke.add_argument("--model", default=default_model_uri(), help="model URI (default: %(default)s)")

    gate = add("gate", command_gate, "Compare a candidate model with production on the same hold-out.")
    add_gate_arguments(gate)
    gate.add_argument(
        "--summary-md",
        metavar="FILE",
        help="append the gate's table as markdown (e.g. $GITHUB_STEP_SUMMARY); with --report, the report's summary",
    )
    gate.add_argument(
        "--pointer-tag-output",
        metavar="FILE",
        help="append `pointer-tag=TAG` (production's pointer as judged, for promote --if-pointer), e.g. $GITHUB_OUTPUT",
    )
    gate.add_argument("--report", metavar="DIR", help="also write the report of this verdict here (as `report` does)")

    report = add(
        "report",
        command_report,
        "Write the gate's comparison as pictures, report.md, summary.md and a self-contained report.html.",
    )
    add_gate_arguments(report, min_accuracy_default=0.9)
    report.add_argument("--out", required=True, metavar="DIR", help="the folder to write, e.g. build/report")
    report.add_argument(
        "--summary-md", metavar="FILE", help="append the report's tables and charts (e.g. $GITHUB_STEP_SUMMARY)"
    )

    promote = add("promote", command_promote, "Make a stored version the current one.")
    promote.add_argument("--store", default=default_store_uri(), help="local folder or s3://bucket/prefix")
    promote.add_argument("--version", required=True)
    promote.add_argument(
        "--if-pointer",
        metavar="TAG",
        help="promote only if `current` is still as the gate saw it (gate --pointer-tag-output); else exit 2",
    )

    export = add("export", command_export, "Copy a verified model into a folder, e.g. the image's build context.")
    export.add_argument("--model", default=default_model_uri(), help="model URI (default: %(default)s)")
    export.add_argument(
        "--to", required=True, help="destination folder (e.g. app/model); an earlier export there is replaced"
    )

    versions = add("versions", command_versions, "List a store's versions; * marks the current one.")
    versions.add_argument("--store", default=default_store_uri())
    versions.add_argument(
        "--pointer-tag-output",
        metavar="FILE",
        help="append `pointer-tag=TAG` (models/current as read before the listing; `none` before any promotion), "
        "e.g. $GITHUB_OUTPUT",
    )

    drift = add(
        "drift",
        command_drift,
        "Compare a CSV of inputs with the model's baseline: exit 0 no drift, 1 drift, 2 cannot judge.",
    )
    drift.add_argument("--model", default=default_model_uri(), help="model URI (default: %(default)s)")
    drift.add_argument("--data", required=True, help="CSV of inputs (local or s3://); a label column is ignored")
    drift.add_argument("--label", help="the CSV's label column to ignore (default: the model's)")
    add_drift_thresholds(drift, "fewest records that can be judged (500)")
    drift.add_argument("--summary-md", metavar="FILE", help="append the table as markdown (e.g. $GITHUB_STEP_SUMMARY)")
    drift.add_argument("--report", metavar="DIR", help="also write the PSI chart and live-vs-baseline histograms here")

    monitor = add(
        "monitor",
        command_monitor,
        "Judge the served model's drift from its CloudWatch metrics: exit 0 no drift, 1 drift, 2 cannot judge.",
    )
    monitor.add_argument(
        "--store", default=default_store_uri(), help="the store whose current version is served (s3://bucket/prefix)"
    )
    monitor.add_argument(
        "--namespace",
        help="the handler's metric namespace (default: the handler's own, $METRICS_NAMESPACE or its default)",
    )
    monitor.add_argument(
        "--window", default="1d,7d", help="comma-separated windows ending now, in h or d (default: %(default)s)"
    )
    add_drift_thresholds(monitor, "fewest records a window needs to be judged (500)")
    monitor.add_argument(
        "--summary-md", metavar="FILE", help="append the tables as markdown (e.g. $GITHUB_STEP_SUMMARY)"
    )
    monitor.add_argument("--report", metavar="DIR", help="also write each window's PSI chart and histograms here")

    openapi = add("openapi", command_openapi, "Write the OpenAPI document of a model's API (YAML, or JSON for .json).")
    openapi.add_argument("--model", default=default_model_uri(), help="model URI (default: %(default)s)")
    openapi.add_argument("--out", metavar="FILE", help="write here instead of standard output, e.g. docs/openapi.yaml")
    return parser


def main(argv: list[str] | None = None) -> int:
    from lambda_model.registry.artifact import ArtifactError
    from lambda_model.registry.store import StoreError
    from lambda_model.serving.request import RequestError

    args = build_parser().parse_args(argv)
    expected: tuple[type[Exception], ...] = (UsageError, StoreError, ArtifactError, RequestError)
    if args.command == "monitor":
        from lambda_model.monitoring.cloudwatch import MetricsError
        from lambda_model.monitoring.live import MonitorError

        expected += (MetricsError, MonitorError)
    if args.command in ("train", "gate", "report", "drift"):
        from lambda_model.training.conversion import ParityError
        from lambda_model.training.data import DataError
        from lambda_model.training.pipeline import ParameterError

        expected += (DataError, ParameterError, ParityError)
    try:
        return args.handler(args)
    except expected as error:
        print(f"error: {getattr(error, 'message', error)}", file=sys.stderr)
        return 2
