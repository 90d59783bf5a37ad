"""docs/pipeline-yaml.md is generated from the schema; a stale copy fails here."""

from __future__ import annotations

from pathlib import Path

from dpc.spec.reference import main, render_reference
from dpc.spec.schema import pipeline_schema

ROOT = Path(__file__).resolve().parents[2]


def test_reference_doc_is_up_to_date() -> None:
    written = (ROOT / "docs" / "pipeline-yaml.md").read_text("utf-8")
    assert written == render_reference(), "run: python -m dpc.spec.reference"


def test_reference_lists_every_field_with_its_rule() -> None:
    text = render_reference()
    assert "| `trigger.executions.allOf[].status` | list of `SUCCESS`, `SUCCEEDED`" in text
    assert "| `steps[].script` | text | yes |" in text
    assert "Allowed: exactly 12 digits, quoted." in text


def test_a_new_schema_field_appears_in_the_reference() -> None:
    schema = pipeline_schema()
    changed = {
        **schema,
        "properties": {
            **schema["properties"],
            "owner": {"type": "string", "description": "Who to ask."},
        },
    }
    assert "| `owner` | text |  | Who to ask. |" in render_reference(changed)


def test_main_writes_the_file(tmp_path: Path) -> None:
    target = tmp_path / "docs" / "ref.md"
    assert main([str(target)]) == 0
    assert target.read_text("utf-8") == render_reference()
