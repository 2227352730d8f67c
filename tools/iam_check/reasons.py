"""Why a grant no recorded call uses is there anyway, read from the policy source: a trailing comment next to it.

In terraform/bootstrap/*.tf an action list line may end in `# unused offline: <why>`; the reason covers every
"prefix:Action" string on that line, in the statement whose `Sid = "..."` last precedes it (each statement there
opens with its Sid). One place for the grant and its reason: moving or deleting the grant moves the reason.
"""

from __future__ import annotations

import re
from pathlib import Path

MARKER = "# unused offline:"
SID = re.compile(r'^\s*Sid\s*=\s*"(?P<sid>[^"]+)"')
ACTION = re.compile(r'"(?P<action>[a-z0-9-]+:[A-Za-z0-9*?]+)"')

# (statement Sid, action pattern as written) → the reason.
Reasons = dict[tuple[str, str], str]


class ReasonError(ValueError):
    """A reason comment that names no action, or sits before any statement's Sid."""


def read_reasons(*sources: Path) -> Reasons:
    """The reasons of every source file (a statement's Sid is looked up in the file it is written in)."""
    return {key: reason for source in sources for key, reason in _read(source).items()}


def _read(source: Path) -> Reasons:
    reasons: Reasons = {}
    sid: str | None = None
    for number, line in enumerate(source.read_text().splitlines(), start=1):
        if found := SID.match(line):
            sid = found.group("sid")
        code, marker, reason = line.partition(MARKER)
        if not marker:
            continue
        actions = ACTION.findall(code)
        if not actions or sid is None or not reason.strip():
            raise ReasonError(f"{source.name}:{number}: a reason must follow a statement's actions: {line.strip()}")
        for action in actions:
            reasons[(sid, action)] = reason.strip()
    return reasons
