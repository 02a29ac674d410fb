"""Reading and writing ``meta.yaml`` files safely.

Reading: a size cap, PyYAML's safe loader (the C one when present), and a refusal of
what MLflow never writes but an attacker could: anchors and aliases (billion-laughs
bombs), explicit tags (``!!python/object``…) and deep nesting. Writing: the exact
settings MLflow's ``write_yaml`` uses, so the bytes match what MLflow writes.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from ..errors import ImportFailure

try:
    from yaml import CSafeDumper as _Dumper
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeDumper as _Dumper  # type: ignore[assignment]
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

#: MLflow's meta.yaml files are a few hundred bytes; anything this big is not one.
MAX_YAML_BYTES = 1 << 20
MAX_DEPTH = 16
_STANDARD_TAG = "tag:yaml.org,2002:"
_SUSPICIOUS = re.compile(r"[&*!]")


def load_mapping(data: bytes, where: str) -> dict[str, Any]:
    """Parse a meta.yaml's bytes into a dict, or raise ImportFailure naming ``where`` and the line."""
    if len(data) > MAX_YAML_BYTES:
        raise ImportFailure(f"{where}: {len(data):,} bytes is too big for a meta.yaml "
                            f"(the limit is {MAX_YAML_BYTES:,}); it is not an MLflow file.")
    text = _decode(data, where)
    if not text.strip():
        raise ImportFailure(f"{where}: the file is empty; MLflow writes its run and experiment metadata here. "
                            "Restore it from a backup, or delete the folder if it is not a run.")
    fast = _flat_mapping(text)
    if fast is not None:
        return fast
    if _SUSPICIOUS.search(text) or text.count("[") + text.count("{") > 4:
        _check_events(text, where)
    try:
        value = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = f", line {mark.line + 1}" if mark is not None else ""
        raise ImportFailure(f"{where}{line}: not valid YAML ({error.problem or error.context}).") from None
    except yaml.YAMLError as error:
        raise ImportFailure(f"{where}: not valid YAML ({error}).") from None
    if not isinstance(value, dict):
        raise ImportFailure(f"{where}, line 1: expected 'key: value' lines, found a {type(value).__name__}.")
    return value


# -- a fast path for the flat files MLflow writes ------------------------------------------------
# Each line is "key: value" with a value that YAML 1.1 (PyYAML's SafeLoader) reads unambiguously:
# '' / 'single quoted', null, a plain decimal int, [] / {}, or a plain string that starts with a
# letter or '/', has no ': ' or ' #' (nor a trailing ':' or space), and is not a YAML bool/null
# word. Anything else (folded lines, double quotes, floats, dates...) goes to the real loader.
_LINE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*): (.*)")
_INT = re.compile(r"0|-?[1-9][0-9]{0,18}")
_PLAIN = re.compile(r"[A-Za-z/][^\t\r]*")
_HEX = re.compile(r"[0-9a-f]*[a-f][0-9a-f]*")  # run ids; never a YAML number unless '0b...'
_WORDS = frozenset({"yes", "no", "true", "false", "on", "off", "null", "y", "n", "~"})
_EMPTY = {"''": "", "null": None, "[]": [], "{}": {}}


def _flat_mapping(text: str) -> dict[str, Any] | None:
    """Parse a flat meta.yaml quickly, or None when the real loader must decide."""
    if _ODD.search(text):
        return None
    result: dict[str, Any] = {}
    for line in text.split("\n"):
        if not line:
            continue
        match = _LINE.fullmatch(line)
        if match is None:
            return None
        key, raw = match.groups()
        if key in result:
            return None
        value = _flat_value(raw)
        if value is _NO:
            return None
        result[key] = value
    return result or None


_NO = object()
#: Characters that YAML treats as line breaks, or refuses, or that need escapes: left to the loader.
_ODD = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]")


def _flat_value(raw: str) -> Any:
    if raw in _EMPTY:
        value = _EMPTY[raw]
        return list(value) if isinstance(value, list) else dict(value) if isinstance(value, dict) else value
    if raw.startswith("'"):
        inner = raw[1:-1]
        if len(raw) < 2 or not raw.endswith("'") or "'" in inner.replace("''", ""):
            return _NO
        return inner.replace("''", "'")
    if _INT.fullmatch(raw):
        return int(raw)
    if _HEX.fullmatch(raw) and not raw.startswith("0b"):
        return raw
    if (_PLAIN.fullmatch(raw) and raw == raw.rstrip() and raw.lower() not in _WORDS and ": " not in raw
            and " #" not in raw and not raw.endswith(":")):
        return raw
    return _NO


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ImportFailure(f"{where}, line {line}: not valid UTF-8 (byte {error.start}).") from None


def _check_events(text: str, where: str) -> None:
    """Refuse anchors, aliases, non-standard tags and deep nesting before anything is built."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            line = event.start_mark.line + 1 if event.start_mark is not None else "?"
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise ImportFailure(f"{where}, line {line}: YAML anchors and aliases are refused "
                                    "(MLflow never writes them, and they can expand without bound).")
            tag = getattr(event, "tag", None)
            if tag and tag != "!" and not (tag.startswith(_STANDARD_TAG) and "python" not in tag):
                raise ImportFailure(f"{where}, line {line}: the YAML tag {tag!r} is refused; "
                                    "only plain values are read from meta.yaml.")
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise ImportFailure(f"{where}, line {line}: nested more than {MAX_DEPTH} levels deep; "
                                        "that is not an MLflow meta.yaml.")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = f", line {mark.line + 1}" if mark is not None else ""
        raise ImportFailure(f"{where}{line}: not valid YAML ({error.problem or error.context}).") from None


def line_of(data: bytes, key: str) -> int | None:
    """The 1-based line where a top-level ``key:`` is written, for messages."""
    prefix = f"{key}:".encode()
    for number, line in enumerate(data.split(b"\n"), 1):
        if line.startswith(prefix):
            return number
    return None


def dump(data: dict[str, Any]) -> str:
    """YAML text exactly as MLflow's ``write_yaml`` produces it (sorted keys, block style, UTF-8)."""
    return yaml.dump(data, Dumper=_Dumper, default_flow_style=False, allow_unicode=True, sort_keys=True)
