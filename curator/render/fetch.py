"""How ``curator fetch`` shows what it did: the files that failed (each with what to do), a summary line, and the
JSON document; and its progress line (bytes, rate, time left) on stderr."""

from __future__ import annotations

import json
import sys
import time
from typing import TextIO

from curator import __version__
from curator.escaping import display
from curator.fetch.download import PRESENT, RESUMED
from curator.fetch.run import Fetched
from curator.wording import human_bytes, rate_and_left


def fetch_text(result: Fetched) -> str:
    lines = []
    for outcome in result.failed:
        lines.append(f"{outcome.status.upper()} {display(outcome.rel)}: {display(outcome.reason)}")
    for name, why in result.problems:
        lines.append(f"NOT FETCHED {display(name)}: {display(why)}")
    count = {status: sum(1 for o in result.outcomes if o.status == status) for status in
             ("fetched", RESUMED, PRESENT)}
    received = sum(o.received for o in result.outcomes)
    verdict = "FETCHED" if not result.failed and not result.problems else "INCOMPLETE"
    lines.append(f"fetch {display(result.source)} -> {display(str(result.dest))}: {verdict}: "
                 f"{len(result.outcomes)} files ({count['fetched']} fetched, {count[RESUMED]} resumed, "
                 f"{count[PRESENT]} already there, {len(result.failed)} failed), {human_bytes(received)} received "
                 f"in {result.seconds:.2f} s")
    if result.note:
        lines.append(display(result.note))
    return "\n".join(lines) + "\n"


def fetch_json(result: Fetched) -> str:
    from curator.render.report import to_json

    document = {
        "tool": "curator", "version": __version__, "command": "fetch", "source": result.source,
        "dest": str(result.dest), "ok": result.ok, "seconds": result.seconds,
        "files": [{"path": o.rel, "status": o.status, "received": o.received, "size": o.size,
                   **({"digests": o.digests} if o.digests else {}), **({"reason": o.reason} if o.reason else {})}
                  for o in result.outcomes],
        "problems": [{"name": name, "reason": why} for name, why in result.problems],
        "refetch": result.refetch,
        "verify": json.loads(to_json(result.report)) if result.report is not None else None,
        **({"note": result.note} if result.note else {}),
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


class FetchProgress:
    """``fetch: 12/37 files, 3.1/4.1 MB, 12.0 MB/s, 1 s left`` on one line of stderr, at most ``rate`` a second."""

    def __init__(self, stream: TextIO | None = None, rate: float = 4.0) -> None:
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.interval, self.last, self.drawn = 1.0 / rate, 0.0, False

    def __call__(self, done: int, files: int, received: int, expected: int) -> None:
        now = time.monotonic()
        if now - self.last < self.interval and done < files:
            return
        self.last = now
        speed, seconds_left = rate_and_left(received, expected, now - self.started)
        whole = f"/{human_bytes(expected)}" if expected else ""
        left = f", {seconds_left} s left" if expected and seconds_left is not None else ""
        self.stream.write(f"\rfetch: {done}/{files} files, {human_bytes(received)}{whole}, {human_bytes(speed)}/s{left}"
                          "\x1b[K")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
