"""The resumable download of one file into ``DEST/<rel>``, hashed while it streams.

The bytes go to ``DEST/<rel>.part`` (:func:`curator.outputs.appending`: fsync'ed when the transfer stops, however
it stops, so a killed run leaves them). A rerun reads the ``.part`` once into the hashers and asks for the rest
(``Range: bytes=N-``); a 206 must start at N, a 200 means the server starts again (the ``.part`` is cut to 0), a
416 makes the download start from the first byte. The body is never read past the size the source publishes: a
longer or endless body is refused. When the bytes are all there they are compared with every checksum the source
publishes; a file that matches is renamed to ``DEST/<rel>``, one that does not is removed (``.part`` too: its bytes
cannot be trusted to resume from) and named with both digests.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from curator.errors import OutputError
from curator.fetch.plan import GIT_BLOB, Item
from curator.fetch.transport import Opened, Restart, TransferError, open_at
from curator.io.hashing import CHUNK, new_hasher
from curator.outputs import NotRegularError, appending, move, output_error

PART = ".part"
# statuses of an Outcome
FETCHED, RESUMED, PRESENT, INCOMPLETE, DAMAGED, REFUSED = ("fetched", "resumed", "present", "incomplete", "damaged",
                                                           "refused")
FAILED = frozenset({INCOMPLETE, DAMAGED, REFUSED})


@dataclass
class Outcome:
    """What became of one item: ``status`` (one of the constants above), the bytes that came over the network,
    the digests of the file in DEST (by algorithm) and, for a failure, why."""

    rel: str
    status: str
    received: int = 0
    size: int | None = None
    digests: dict[str, str] = field(default_factory=dict)
    reason: str = ""


class _Hashes:
    """Every algorithm wanted, fed the same bytes. A git blob id is SHA-1 over ``blob <size>\\0`` and the bytes."""

    def __init__(self, algorithms: tuple[str, ...], size: int | None) -> None:
        self.algorithms, self.size = algorithms, size
        self.reset()

    def reset(self) -> None:
        self.hashers = {}
        for name in self.algorithms:
            if name == GIT_BLOB:
                hasher = new_hasher("sha1")
                hasher.update(b"blob %d\0" % (self.size or 0))
            else:
                hasher = new_hasher(name)
            self.hashers[name] = hasher

    def update(self, data: bytes | memoryview) -> None:
        for hasher in self.hashers.values():
            hasher.update(data)

    def hexdigests(self) -> dict[str, str]:
        return {name: hasher.hexdigest() for name, hasher in self.hashers.items()}


Tick = Callable[[int], None]   # called with each count of bytes received


MAX_SIZE = 1 << 40   # the most bytes taken of a file whose source publishes no size (--max-size)


def download(item: Item, dest: Path, *, also: tuple[str, ...] = ("sha256",), force: bool = False,
             timeout: float = 60.0, tick: Tick | None = None, max_size: int = MAX_SIZE) -> Outcome:
    """Fetch ``item`` into ``dest`` (resuming its ``.part``); never raises for what the server does.

    A file the source gives no size for is taken up to ``max_size`` bytes (and up to its Content-Length)."""
    target, part = dest / item.rel, dest / (item.rel + PART)
    for folder in reversed(target.parents[:len(target.relative_to(dest).parts) - 1]):
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            return Outcome(item.rel, REFUSED, reason=f"{folder} is a link or not a folder; nothing was written "
                                                     "through it. Remove it and run again")
    algorithms = tuple(dict.fromkeys((*item.digests, *also)))
    hashes = _Hashes(algorithms, item.size)
    present = _present(item, target, hashes, force)
    if present is not None:
        return present
    try:
        return _transfer(item, part, target, hashes, timeout, tick or (lambda _: None), max_size)
    except NotRegularError as error:
        return Outcome(item.rel, REFUSED, reason=f"{error.filename} is not a regular file (a link, folder or FIFO); "
                                                 "nothing was written there. Remove it and run again")
    except OSError as error:
        found = output_error(error, [dest])
        raise (found or OutputError(str(part), error.strerror or str(error))) from error


def _present(item: Item, target: Path, hashes: _Hashes, force: bool) -> Outcome | None:
    """The outcome when ``target`` is already there (right, or not to be overwritten); None to download it."""
    try:
        info = target.lstat()
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return Outcome(item.rel, REFUSED, reason=f"{target} is not a regular file (a link, folder or FIFO); "
                                                 "nothing was written there. Remove it and run again")
    if force:
        return None
    if not item.digests:
        if item.size is None or info.st_size == item.size:
            return Outcome(item.rel, PRESENT, size=info.st_size,
                           reason="already there; the source publishes no checksum to compare it with")
        return Outcome(item.rel, REFUSED, size=info.st_size,
                       reason=f"DEST has a file of {info.st_size} bytes there, the source lists {item.size}; "
                              "it was not overwritten (--force replaces it)")
    _read_into(target, hashes)
    got = hashes.hexdigests()
    if all(got[a] == d for a, d in item.digests.items()):
        return Outcome(item.rel, PRESENT, size=info.st_size, digests=got, reason="already there with the right "
                                                                                 "checksum")
    algorithm = next(iter(item.digests))
    return Outcome(item.rel, REFUSED, size=info.st_size,
                   reason=f"DEST has a different file there ({algorithm} {got[algorithm]}, the source lists "
                          f"{item.digests[algorithm]}); it was not overwritten (--force replaces it)")


def _read_into(path: Path, hashes: _Hashes, limit: int | None = None) -> int:
    """Feed the bytes of the regular file ``path`` (up to ``limit``) to the hashers; how many there were."""
    handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    count = 0
    with os.fdopen(handle, "rb", buffering=0) as stream:
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            raise NotRegularError(0, "not a regular file", str(path))
        view = memoryview(bytearray(CHUNK))
        while (limit is None or count < limit) and (n := stream.readinto(view)):
            n = n if limit is None else min(n, limit - count)
            hashes.update(view[:n])
            count += n
    return count


def _part_size(part: Path, size: int | None) -> int:
    try:
        info = part.lstat()
    except FileNotFoundError:
        return 0
    if not stat.S_ISREG(info.st_mode):
        raise NotRegularError(0, "not a regular file", str(part))
    return 0 if size is not None and info.st_size > size else info.st_size


def _transfer(item: Item, part: Path, target: Path, hashes: _Hashes, timeout: float, tick: Tick,
              max_size: int) -> Outcome:
    part.parent.mkdir(parents=True, exist_ok=True)
    have = _part_size(part, item.size)
    if have:
        have = _read_into(part, hashes, have)
    received, resumed, status_note = 0, have > 0, ""
    if item.size is None or have < item.size:
        try:
            opened = open_at(item, have, timeout)
        except Restart as restart:
            status_note = f" ({restart}; fetched from the start)"
            have, resumed = 0, False
            hashes.reset()
            try:
                opened = open_at(item, 0, timeout)
            except TransferError as error:
                return _incomplete(item, part, have, str(error))
        except TransferError as error:
            return _incomplete(item, part, have, str(error))
        if opened.start == 0 and have:   # the server ignored the range: start again
            have, resumed = 0, False
            hashes.reset()
        try:
            received, problem = _stream(item, part, have, opened, hashes, tick, max_size)
        finally:
            opened.close()
        if problem is not None:
            problem.received = received
            return problem
    return _finish(item, part, target, have + received, received, hashes, resumed, status_note)


def _stream(item: Item, part: Path, have: int, opened: Opened, hashes: _Hashes, tick: Tick,
            max_size: int) -> tuple[int, Outcome | None]:
    """Append the body to the ``.part``; (bytes received, the outcome when it went wrong)."""
    if item.size is not None:
        bound, said = item.size, "the source lists"
    elif opened.length is not None and have + opened.length <= max_size:
        bound, said = have + opened.length, "it announced"
    else:
        bound, said = max_size, "--max-size allows for a file whose source gives no size"
    received = 0
    try:
        with appending(part, have) as stream:
            for chunk in opened.chunks:
                if have + received + len(chunk) > bound:
                    keep = bound - have - received
                    stream.write(chunk[:keep])
                    hashes.update(chunk[:keep])
                    received += keep
                    tick(keep)
                    return received, _damaged(item, part, f"the server sent more than the {bound} bytes {said}; "
                                                          "the file was removed")
                stream.write(chunk)
                hashes.update(chunk)
                received += len(chunk)
                tick(len(chunk))
    except TransferError as error:
        return received, _incomplete(item, part, have + received, str(error))
    if opened.length is not None and received < opened.length:
        return received, _incomplete(item, part, have + received,
                                     f"the connection ended after {received} of the {opened.length} bytes sent")
    return received, None


def _finish(item: Item, part: Path, target: Path, size: int, received: int, hashes: _Hashes, resumed: bool,
            note: str) -> Outcome:
    if item.size is not None and size < item.size:
        return _incomplete(item, part, size, f"the server sent {size} of the {item.size} bytes the source lists")
    got = hashes.hexdigests()
    for algorithm, digest in item.digests.items():
        if got[algorithm] != digest:
            return _damaged(item, part, f"{algorithm} is {got[algorithm]}, {item.where or 'the source'} lists "
                                        f"{digest}; the download was removed", received, got)
    move(part, target)
    return Outcome(item.rel, RESUMED if resumed else FETCHED, received=received, size=size,
                   digests={a: d for a, d in got.items() if a != GIT_BLOB}, reason=note.strip(" ()"))


def _incomplete(item: Item, part: Path, have: int, why: str) -> Outcome:
    kept = f"; {have} bytes kept in {part.name}, a rerun continues from there" if have else ""
    return Outcome(item.rel, INCOMPLETE, size=have, reason=f"{why}{kept}")


def _damaged(item: Item, part: Path, why: str, received: int = 0, got: dict[str, str] | None = None) -> Outcome:
    part.unlink(missing_ok=True)
    return Outcome(item.rel, DAMAGED, received=received, digests=got or {}, reason=why)
