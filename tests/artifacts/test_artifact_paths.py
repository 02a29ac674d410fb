"""normalize_artifact_path and safe_destination: canonical forms, refusals, symlink escapes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sqltrack.artifacts import (
    MAX_PATH_CHARS,
    MAX_SEGMENT_BYTES,
    normalize_artifact_path,
    safe_destination,
)
from sqltrack.errors import InvalidArtifactPath, InvalidParameter

ACCEPTED = [
    (None, ""),
    ("", ""),
    (".", ""),
    ("./", ""),
    ("model/model.pkl", "model/model.pkl"),
    ("plots", "plots"),
    ("plots/", "plots"),
    ("./a/./b/.", "a/b"),
    (".hidden", ".hidden"),
    ("a..b/..c/d..", "a..b/..c/d.."),
    ("with space/ünïcødé ✓.txt", "with space/ünïcødé ✓.txt"),
    ("ab:c/d", "ab:c/d"),
]

# (path, a fragment of the reason the message must give)
REFUSED = [
    ("../x", "'..'"),
    ("a/../../x", "'..'"),
    ("a/..", "'..'"),
    ("..", "'..'"),
    ("/etc/passwd", "absolute"),
    ("//x", "absolute"),
    ("/", "absolute"),
    ("C:\\x", "absolute"),
    ("C:/x", "absolute"),
    ("c:x", "absolute"),
    ("\\\\server\\share\\x", "absolute"),
    ("\\x", "absolute"),
    ("a\\..\\b", "backslash"),
    ("a\\b", "backslash"),
    ("a\x00b", "control character"),
    ("a\nb", "control character"),
    ("a\tb", "control character"),
    ("a\x7fb", "control character"),
    ("a\x85b", "control character"),
    ("a//b", "empty segment"),
    ("a//", "empty segment"),
    ("...", "dots and spaces"),
    (" ", "dots and spaces"),
    ("a/ /b", "dots and spaces"),
    ("a/. ./b", "dots and spaces"),
    ("a/C:/b", "drive"),
    ("a/\udc80", "Unicode"),
]


@pytest.mark.parametrize(("given", "expected"), ACCEPTED)
def test_accepted_paths_are_canonicalized(given: str | None, expected: str) -> None:
    assert normalize_artifact_path(given) == expected


@pytest.mark.parametrize(("given", "reason"), REFUSED)
def test_refused_paths_name_the_path_the_reason_and_the_fix(given: str, reason: str) -> None:
    with pytest.raises(InvalidArtifactPath) as info:
        normalize_artifact_path(given)
    message = str(info.value)
    assert repr(given) in message or "surrogate" in message
    assert reason in message
    assert "model/model.pkl" in message or "Pass the name" in message


def test_errors_are_value_errors_for_idiomatic_except() -> None:
    with pytest.raises(ValueError):
        normalize_artifact_path("../x")
    assert issubclass(InvalidArtifactPath, InvalidParameter)


def test_canonical_paths_are_fixed_points() -> None:
    for given, expected in ACCEPTED:
        assert normalize_artifact_path(expected) == expected, given


@pytest.mark.parametrize("root", [None, "", ".", "./"])
def test_root_refused_when_a_file_is_needed(root: str | None) -> None:
    with pytest.raises(InvalidArtifactPath, match="file path is needed"):
        normalize_artifact_path(root, allow_root=False)


def test_non_string_is_refused() -> None:
    with pytest.raises(InvalidArtifactPath, match="bytes, not a string"):
        normalize_artifact_path(b"model.pkl")  # type: ignore[arg-type]


def test_segment_limit_is_in_utf8_bytes() -> None:
    assert normalize_artifact_path("a" * MAX_SEGMENT_BYTES) == "a" * MAX_SEGMENT_BYTES
    with pytest.raises(InvalidArtifactPath, match="limit is 255 bytes"):
        normalize_artifact_path("a" * (MAX_SEGMENT_BYTES + 1))
    with pytest.raises(InvalidArtifactPath, match="256 bytes"):
        normalize_artifact_path("é" * 128)  # 128 characters, 256 bytes


def test_total_limit_is_in_characters_of_the_canonical_path() -> None:
    exact = "/".join(["x" * 99] * 7)  # 7 * 99 + 6 = 699
    assert len(exact + "y") == MAX_PATH_CHARS
    assert normalize_artifact_path(exact + "y") == exact + "y"
    assert normalize_artifact_path("./" + exact + "y/") == exact + "y"
    with pytest.raises(InvalidArtifactPath, match="701 characters long; the limit is 700"):
        normalize_artifact_path(exact + "yz")


def test_huge_input_is_refused_with_a_short_message() -> None:
    with pytest.raises(InvalidArtifactPath) as info:
        normalize_artifact_path("a/" * 1_000_000)
    assert len(str(info.value)) < 400


# -- safe_destination --------------------------------------------------------------------


def test_safe_destination_joins_under_root(tmp_path: Path) -> None:
    assert safe_destination(tmp_path, "model/model.pkl") == tmp_path / "model" / "model.pkl"
    assert safe_destination(tmp_path, "") == tmp_path
    assert safe_destination(tmp_path, "plots/") == tmp_path / "plots"


def test_safe_destination_works_with_a_relative_root(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert safe_destination(Path("out"), "a/b") == Path("out/a/b")


@pytest.mark.parametrize("given", ["../x", "/etc/passwd", "a\\..\\b", "a\x00b"])
def test_safe_destination_validates_the_logical_path(tmp_path: Path, given: str) -> None:
    with pytest.raises(InvalidArtifactPath):
        safe_destination(tmp_path, given)


def test_symlinked_folder_pointing_outside_is_refused(tmp_path: Path) -> None:
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    (dest / "plots").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InvalidArtifactPath) as info:
        safe_destination(dest, "plots/loss.png")
    message = str(info.value)
    assert "'plots/loss.png'" in message and str(outside / "loss.png") in message
    assert "symlink" in message


def test_symlinked_file_pointing_outside_is_refused(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "model.pkl").symlink_to(tmp_path / "victim.txt")
    with pytest.raises(InvalidArtifactPath, match="outside the destination"):
        safe_destination(dest, "model.pkl")


def test_symlink_chain_escaping_is_refused(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    (dest / "a").mkdir(parents=True)
    (dest / "a" / "up").symlink_to("..")  # still inside: dest
    (dest / "a" / "out").symlink_to("../..")  # tmp_path: outside
    assert safe_destination(dest, "a/up/x").resolve() == (dest / "x").resolve()
    with pytest.raises(InvalidArtifactPath):
        safe_destination(dest, "a/out/x")


def test_symlink_staying_inside_is_allowed(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    (dest / "real").mkdir(parents=True)
    (dest / "alias").symlink_to(dest / "real", target_is_directory=True)
    assert safe_destination(dest, "alias/x.csv") == dest / "alias" / "x.csv"


def test_destination_root_itself_may_be_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    assert safe_destination(link, "a/b") == link / "a" / "b"
    assert os.path.realpath(safe_destination(link, "a/b")) == str(real / "a" / "b")
