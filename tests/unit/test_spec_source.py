"""Hostile or broken files: a clear finding, never a traceback, never unbounded work."""

from __future__ import annotations

import os
from pathlib import Path

from dpc.spec.errors import Finding
from dpc.spec.loader import check_file
from dpc.spec.source import MAX_FILE_BYTES, MAX_VALUES, read_document


def check(tmp_path: Path, content: bytes) -> list[Finding]:
    source = tmp_path / "pipeline.yaml"
    source.write_bytes(content)
    return list(check_file(source).findings)


def test_empty_file(tmp_path: Path) -> None:
    (finding,) = check(tmp_path, b"# only a comment\n")
    assert str(finding) == (
        f"{tmp_path / 'pipeline.yaml'}: file is empty; a pipeline needs at least name and steps"
    )


def test_binary_file(tmp_path: Path) -> None:
    (finding,) = check(tmp_path, b"\x7fELF\x02\x01\x01\x00" + os.urandom(2000))
    assert finding.message == "not a text file (binary content); expected YAML"


def test_latin1_file_is_not_utf8(tmp_path: Path) -> None:
    (finding,) = check(tmp_path, "name: caf\u00e9\n".encode("latin-1"))
    assert finding.message == "not UTF-8 text (bad byte at offset 9)"


def test_ten_megabyte_file_is_refused_before_parsing(tmp_path: Path) -> None:
    (finding,) = check(tmp_path, b"# " + b"x" * 10_000_000)
    assert finding.message == (
        f"file is 10,000,002 bytes; pipeline.yaml may be at most {MAX_FILE_BYTES:,}"
    )


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    # Given the "billion laughs": 9 levels of 9 aliases each (9**9 values if expanded)
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    (finding,) = check(tmp_path, ("\n".join(lines) + "\n").encode())
    assert finding.message == f"the file expands to more than {MAX_VALUES} values (YAML aliases?)"


def test_self_referencing_anchor_is_refused(tmp_path: Path) -> None:
    (finding,) = check(tmp_path, b"name: &x [*x]\n")
    assert (finding.line, finding.column) == (1, 11)
    assert finding.message == "invalid YAML: alias *x refers to a value that contains it"


def test_undefined_alias(tmp_path: Path) -> None:
    (finding,) = check(tmp_path, b"name: *nowhere\n")
    assert finding.message == "invalid YAML: alias *nowhere is not defined above"


def test_a_megabyte_list_stops_reading_at_the_value_budget(tmp_path: Path) -> None:
    # Given a file just under the size limit holding half a million values
    (finding,) = check(tmp_path, b"a: [" + b",".join([b"1"] * 499_000) + b"]\n")
    # Then reading stops at the budget, pointing at the value that exceeded it
    # (root, key, list: 3 values; item i is the (i + 4)-th value, at column 5 + 2i)
    assert (finding.line, finding.column) == (1, 5 + 2 * (MAX_VALUES - 3))
    assert finding.message == f"the file expands to more than {MAX_VALUES} values (YAML aliases?)"


def test_keys_must_be_plain_text(tmp_path: Path) -> None:
    findings = check(tmp_path, b"? [a, b]\n: 1\nname: x\n")
    (finding,) = [f for f in findings if f.message.startswith("keys must")]
    assert (finding.line, finding.message) == (1, "keys must be plain text, not a list or mapping")


def test_a_quoted_merge_key_is_an_ordinary_key(tmp_path: Path) -> None:
    source = tmp_path / "pipeline.yaml"
    source.write_text("base: &b {x: 1}\n'<<': *b\n")
    document, findings = read_document(source)
    assert document is not None and findings == []
    assert document.data == {"base": {"x": 1}, "<<": {"x": 1}}


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    (finding,) = check(tmp_path, b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n")
    assert "nest" in finding.message


def test_two_documents_are_refused(tmp_path: Path) -> None:
    (finding,) = check(tmp_path, b"name: a\n---\nname: b\n")
    assert (finding.line, finding.column) == (2, 1)
    assert finding.message == (
        "invalid YAML: expected a single document in the stream but found another document"
    )


def test_top_level_list_is_not_a_pipeline(tmp_path: Path) -> None:
    (finding,) = check(tmp_path, b"- name: a\n")
    assert (finding.line, finding.field, finding.message) == (
        1,
        "",
        "expected a mapping, got a list",
    )


def test_anchors_and_merge_keys_within_budget_work(tmp_path: Path) -> None:
    source = tmp_path / "pipeline.yaml"
    source.write_text(
        "x-group: &group {instanceType: r5.xlarge}\n"
        "core: &core {<<: *group, count: 3}\n"
        "list: [*core, *core]\n"
    )
    document, findings = read_document(source)
    assert findings == []
    assert document is not None
    assert document.data["core"] == {"instanceType": "r5.xlarge", "count": 3}
    assert document.data["list"] == [document.data["core"]] * 2


def test_timestamps_and_custom_tags_stay_text(tmp_path: Path) -> None:
    source = tmp_path / "pipeline.yaml"
    source.write_text("day: 2026-11-27\nodd: !python/object:os.system echo\n")
    document, _ = read_document(source)
    assert document is not None
    assert document.data == {"day": "2026-11-27", "odd": "echo"}


def test_missing_file(tmp_path: Path) -> None:
    (finding,) = check_file(tmp_path / "nope.yaml").findings
    assert finding.message.startswith("cannot read:")
