"""What runs inside each benchmarked process: standard library only, started as `python -S -c`.

    cold HANDLER EVENTS_FILE [MODULES]     import MODULES (comma-separated, timed apart), then the handler;
                                            answer the first event, print one line
    warm HANDLER EVENTS_FILE WARM_UP       import, answer WARM_UP events untimed, then time every other one
    floor                                   import json, numpy and onnxruntime, print one line

HANDLER is `module.function`. The parent times a cold start from spawning the process until the
first line arrives, so interpreter start, imports, model loading and the first answer all count.
Every mode ends with this process's peak RSS (ru_maxrss, KiB on Linux).
"""

import importlib
import json
import resource
import sys
import time


def peak_rss_kib() -> int:
    """This process's own high-water mark of resident memory, in KiB.

    Linux keeps ru_maxrss across fork and exec, so a child of a large parent reports at least the
    parent's size; VmHWM belongs to the address space the exec created, which is what we measure.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def load_handler(spec: str):
    module_name, function_name = spec.rsplit(".", 1)
    return getattr(importlib.import_module(module_name), function_name)


def label_of(result: dict) -> str | None:
    body = json.loads(result["body"])
    return body.get("prediction", {}).get("label")


def cold(spec: str, events_file: str, modules: str = "") -> dict:
    with open(events_file) as stream:
        first_event = json.load(stream)[0]
    started = time.perf_counter()
    for name in filter(None, modules.split(",")):  # the floor's imports, which the handler needs anyway
        importlib.import_module(name)
    preloaded = time.perf_counter()
    handler = load_handler(spec)  # imports, and loads the model: both sides do that at import
    imported = time.perf_counter()
    result = handler(first_event, None)
    answered = time.perf_counter()
    return {
        "status": result["statusCode"],
        "label": label_of(result),
        "preload_s": preloaded - started,
        "import_s": imported - preloaded,
        "first_answer_s": answered - imported,
        "peak_rss_kib": peak_rss_kib(),
    }


class CountingStream:
    """Standard error, counting the bytes written to it: a handler's log lines are what CloudWatch ingests."""

    def __init__(self, stream) -> None:
        self.stream, self.written = stream, 0

    def write(self, text: str) -> int:
        self.written += len(text.encode("utf-8"))
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()


def warm(spec: str, events_file: str, warm_up: int) -> dict:
    # Before the import: a handler that configures logging takes the stream it finds then.
    sys.stderr = log = CountingStream(sys.stderr)
    handler = load_handler(spec)
    with open(events_file) as stream:
        events = json.load(stream)
    for event in events[:warm_up]:
        handler(event, None)
    logged_before = log.written
    latencies_ns, labels, statuses = [], [], set()
    clock = time.perf_counter_ns
    for event in events[warm_up:]:
        started = clock()
        result = handler(event, None)
        latencies_ns.append(clock() - started)
        statuses.add(result["statusCode"])
        labels.append(label_of(result))
    return {
        "statuses": sorted(statuses),
        "latencies_ns": latencies_ns,
        "labels": labels,
        "log_bytes": log.written - logged_before,
        "peak_rss_kib": peak_rss_kib(),
    }


def floor() -> dict:
    import json  # noqa: F401  (the floor's own import line, spelled out)

    import numpy  # noqa: F401
    import onnxruntime  # noqa: F401

    return {"status": None, "peak_rss_kib": peak_rss_kib()}


def main(argv: list[str]) -> None:
    mode, *arguments = argv
    if mode == "cold":
        report = cold(*arguments)
    elif mode == "warm":
        report = warm(arguments[0], arguments[1], int(arguments[2]))
    else:
        report = floor()
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
