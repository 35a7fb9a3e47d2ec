"""How a name or message from the data is shown in each output format: the one home of that rule.

Names come from the file system and may hold anything but ``/`` and NUL: bytes that are not UTF-8 (Python keeps
each as a lone surrogate U+DC80..U+DCFF, ``os.fsdecode``'s surrogateescape), terminal escapes, newlines, bidi
overrides. The rule:

- :func:`display` (text, GitHub annotations, JUnit, SARIF message text, Markdown): every character that is not
  printable in a line of text is written as a visible escape. A byte that is not UTF-8 becomes ``\\xNN`` (the
  byte, as ``ls --quoting-style=escape`` and Python show it); tab, newline and carriage return ``\\t \\n \\r``; other
  C0 controls, DEL and C1 controls ``\\xNN``; format characters (bidi overrides such as U+202E, zero-width
  characters), line/paragraph separators and other surrogates ``\\uNNNN`` (``\\UNNNNNNNN`` above U+FFFF). Nothing
  else changes. A backslash is left as it is: a name holding one breaks the portable-name policy and is
  reported as FILE_NAME_INVALID anyway, so the escape can only be confused with another invalid name.
- :func:`json_text` (JSON, SARIF): valid JSON that is valid UTF-8 and keeps every value exact, except a byte that
  is not UTF-8, written as the four characters ``\\xNN`` (as :func:`display` does): a lone surrogate in JSON is
  refused or replaced by most parsers other than Python's. Control, format and separator characters, which
  ``json.dumps`` would leave raw, are written as ``\\uNNNN`` JSON escapes (same value, nothing raw reaches a
  terminal that shows the file).
- :func:`markdown_text` (Markdown reports, README_*.md): :func:`display`, then HTML escaped (``& < >`` as entities)
  and ``\\ ` [ ] |`` backslash-escaped, so text from the data can add no HTML, link, image, code span or table
  cell. Emphasis (``*``, ``_``) is left alone: it cannot hide or point anywhere. URLs from the data go through
  :func:`markdown_url` (percent-encoded, usable as a link's text and destination).

Import-light (``re`` only at import): ``curator verify``'s fast path uses it.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["display", "displayed", "json_bytes", "json_text", "markdown_plain", "markdown_text", "markdown_url",
           "path_bytes", "plain"]

_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
_NOT_XML = frozenset("\ufffe\uffff")   # XML 1.0 cannot carry them, even as character references


def _escape(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:         # a byte that is not UTF-8, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if char in _SHORT:
        return _SHORT[char]
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _needs_escape(char: str) -> bool:
    import unicodedata  # only for text that is not plain printable (verify's fast path never needs it)

    return unicodedata.category(char) in _ESCAPED_CATEGORIES or char in _NOT_XML


def display(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every control, format, separator or undecodable character as a visible escape (see above).

    ``keep_newlines`` keeps ``\\n`` as a line break (multi-line text such as an error message or a card's
    description); everything else is still escaped.
    """
    if text.isprintable():               # the common case, one C call
        return text
    return "".join(_escape(c) if _needs_escape(c) and not (keep_newlines and c == "\n") else c for c in text)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _json_escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000   # JSON escapes a character above U+FFFF as its UTF-16 surrogate pair
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def displayed(document: Any) -> Any:
    """``document`` (JSON-like) with every string, keys included, as :func:`display` shows it: for a page that puts
    the data on screen itself (the review page's script)."""
    if isinstance(document, str):
        return display(document)
    if isinstance(document, dict):
        return {displayed(k): displayed(v) for k, v in document.items()}
    if isinstance(document, (list, tuple)):
        return [displayed(v) for v in document]
    return document


def json_text(document: Any, *, indent: int | None = 2) -> str:
    """``document`` as JSON text that every parser accepts and no terminal interprets (see above)."""
    import json
    from json.encoder import encode_basestring

    text = json.dumps(document, ensure_ascii=False) if indent is None else _indented(document, " " * indent)
    # a lone surrogate (an undecodable byte of a name) stays raw in a JSON string and is no valid UTF-8: each is
    # written as its visible escape, JSON-escaped in turn. Surrogates occur only inside strings, and JSON escapes
    # a string character by character, so this is the text of the document with its strings escaped first
    # (without copying the whole document for the rare surrogate: issue 15's 74k-finding report)
    if _SURROGATE.search(text):
        text = _SURROGATE.sub(lambda m: encode_basestring(_escape(m.group()))[1:-1], text)
    # json.dumps escapes C0 controls but leaves DEL, C1, format and separator characters raw; outside strings
    # there is only the indentation's newlines and spaces
    if text.replace("\n", "").isprintable():
        return text
    return _printable_json(text)


def _printable_json(text: str) -> str:
    """JSON text with every character that is not printable (but the indentation's newlines) as a JSON escape."""
    return "".join(c if c.isprintable() or c == "\n" else _json_escape(c) for c in text)


def json_bytes(document: Any, *, indent: int = 2, checked: bool = False, newline: bool = False) -> bytes:
    """``json_text(document, indent=indent).encode()`` (and ``b"\\n"`` after it with ``newline``: not a copy of the
    whole text to add one byte), byte for byte, written by orjson (in Rust, ~20x faster than
    :func:`_indented`: issue 15's 49 MB report of 74,000 findings) when the indent is 2 and the document is
    :func:`plain` (``checked``: the caller has made sure of it, checking only what its types leave open); otherwise,
    and whatever orjson refuses (a lone surrogate, an undecodable byte of a name; an int beyond 64 bits; a key that
    is not a str), through :func:`json_text`."""
    if indent == 2 and (checked or plain(document)):
        import orjson

        try:   # dataclasses and datetimes, which orjson would write and json refuses: refused too
            data = orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_PASSTHROUGH_DATACLASS
                                | orjson.OPT_PASSTHROUGH_DATETIME | (orjson.OPT_APPEND_NEWLINE if newline else 0))
        except TypeError:   # orjson.JSONEncodeError
            data = None
        if data is not None:
            # JSON escapes C0 controls inside strings and has only newlines and spaces outside them: in ASCII text
            # DEL is the one character json_text would escape further
            if data.isascii() and b"\x7f" not in data:
                return data
            text = data.decode()
            return data if text.replace("\n", "").isprintable() else _printable_json(text).encode()
    return (json_text(document, indent=indent) + ("\n" if newline else "")).encode()


def plain(document: Any) -> bool:
    """Whether ``document`` holds only what orjson writes exactly as ``json.dumps`` does, or refuses: dicts, lists,
    tuples, str (and its subclasses, a StrEnum included, written as their text by both), int, bool, None, and
    floats that are 0 or of magnitude in [1e-4, 1e16) (beyond, orjson writes ``0.00001`` where ``repr`` writes
    ``1e-05``, and older orjson ``1e16`` for ``1e+16``; NaN and infinities it writes as null). Other types are left
    to :func:`json_text` too. A loop over a stack, strings skipped where they are met: the contexts of 74,000
    findings in ~50 ms."""
    stack = [document]
    pop, push = stack.pop, stack.append
    while stack:
        value = pop()
        kind = type(value)
        if kind is dict:
            for item in value.values():
                if type(item) is not str:
                    push(item)
        elif kind is list or kind is tuple:
            for item in value:
                if type(item) is not str:
                    push(item)
        elif kind is float:
            if not (value == 0 or 1e-4 <= abs(value) < 1e16):   # NaN compares false
                return False
        elif not (kind is int or kind is bool or value is None or isinstance(value, str)):
            return False
    return True


def _indented(document: Any, step: str) -> str:
    """``json.dumps(document, indent=len(step), ensure_ascii=False)``, byte for byte, without its pure-Python
    encoder's nested generators (which the standard library takes whenever there is an indent): one recursive pass
    appending to a list, each string through the C string encoder. Issue 15: the 74,000-finding report of a DICOM
    release took twice as long through ``json.dumps`` with an indent."""
    from json.encoder import encode_basestring  # the C string encoder, as json.dumps uses it (ensure_ascii=False)

    chunks: list[str] = []
    append = chunks.append

    def name_of(value: Any) -> str:
        return encode_basestring(value) if type(value) is str else _json_key(value)

    def member(prefix: str, item: Any, inner: str) -> None:
        """One member of an object or array: ``prefix`` (separator, indentation and any name) and its value."""
        kind = type(item)
        if kind is str:
            append(prefix + encode_basestring(item))
            return
        append(prefix)
        text = None if kind is dict or kind is list else _json_scalar(item)
        if text is None:
            encode(item, inner)
        else:
            append(text)

    def encode(value: Any, newline: str) -> None:   # json's order of types: str, None, True, False, int, float, ...
        if type(value) is dict:
            if not value:
                append("{}")
                return
            inner = newline + step
            separator = "{" + inner
            for name, item in value.items():
                member(f"{separator}{name_of(name)}: ", item, inner)
                separator = "," + inner
            append(newline + "}")
        elif type(value) is list:
            if not value:
                append("[]")
                return
            inner = newline + step
            separator = "[" + inner
            for item in value:
                member(separator, item, inner)
                separator = "," + inner
            append(newline + "]")
        else:
            text = _json_scalar(value)
            if text is not None:
                append(text)
            elif isinstance(value, list | tuple):   # subclasses and tuples: as lists, like json
                encode(list(value), newline)
            elif isinstance(value, dict):
                encode(dict(value), newline)
            else:
                raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

    encode(document, "\n")
    return "".join(chunks)


_INFINITY = float("inf")


def _json_scalar(value: Any) -> str | None:
    """A JSON scalar as ``json.dumps`` writes it (NaN and infinities too); None for anything else."""
    if isinstance(value, str):   # (a str itself is written by the caller; this is a subclass, or a whole document)
        from json.encoder import encode_basestring

        return encode_basestring(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value == _INFINITY:
            return "Infinity"
        if value == -_INFINITY:
            return "-Infinity"
        return float.__repr__(value)
    return None


def _json_key(value: Any) -> str:
    """A key of a dict that is not exactly a str, as ``json.dumps`` writes it (a number or a constant as text)."""
    if isinstance(value, str):
        return _json_scalar(value)  # type: ignore[return-value]
    if isinstance(value, float | int) or value is None:
        return f'"{_json_scalar(value)}"'
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(value).__name__}")


_MARKDOWN = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\\": "\\\\", "`": "\\`", "[": "\\[",
                           "]": "\\]", "|": "\\|"})


def markdown_text(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` from the data as literal Markdown text: no HTML, link, image, code span or table cell from it."""
    return display(text, keep_newlines=keep_newlines).translate(_MARKDOWN)


def markdown_url(url: str) -> str:
    """A URL (or e-mail address) from the data, safe both as a Markdown link's text and as its destination:
    every character outside the URL's own punctuation percent-encoded (``<``, ``>``, brackets, parentheses,
    backslash, backtick, quote, ``|``, spaces, controls, non-ASCII), so it can close no link and open no HTML."""
    from urllib.parse import quote

    return quote(path_bytes(url), safe=":/?#@!$&*+,;=%~-._'")


_MARKDOWN_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def markdown_plain(markdown: str) -> str:
    """The text a reader sees for Markdown :func:`markdown_text` wrote: backslash escapes and entities undone."""
    import html

    return html.unescape(_MARKDOWN_ESCAPE.sub(r"\1", markdown))


def path_bytes(path: str) -> bytes:
    """The bytes of a name as the file system holds them (undoing surrogateescape), for a URI or a key."""
    try:
        return path.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:   # a surrogate surrogateescape did not make: keep it, injectively
        return path.encode("utf-8", "surrogatepass")
