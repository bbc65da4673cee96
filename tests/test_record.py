"""``Transcript``: one record, encoded the same way to storage, JSONL, CSV and the API's JSON, and back."""

from __future__ import annotations

import csv
import io
import json

import pytest

from skills_sdk.errors import StoreError
from skills_sdk.transcripts.record import (
    COLUMNS,
    INSERT_COLUMNS,
    Transcript,
    from_export,
    iter_csv,
    parse_iso,
    storage_values,
    to_iso,
)

FULL = Transcript(id=7, created_at="2026-11-28T09:30:00.123Z", developer_id="acme", skill="pizza", user_id="u1",
                  session_id="S1", request_id="R1", request_type="IntentRequest", intent="OrderIntent",
                  slots={"size": "large"}, utterance="a large one", speech="One large.", reprompt="More?",
                  card={"title": "Order"}, directives=["Dialog.Delegate"], end_session=False,
                  transaction={"amount": "9.50"}, locale="en-US", latency_ms=1.5, status="ok", error=None,
                  redacted=["CARD", "PHONE"], capture_mode="redacted")


def test_storage_row_round_trips():
    stored = dict(zip(INSERT_COLUMNS, FULL.to_row(), strict=True))
    assert stored["slots"] == '{"size":"large"}' and stored["end_session"] == 0 and stored["redacted"] == "CARD,PHONE"
    assert Transcript.from_row({"id": 7, **stored}) == FULL


def test_json_round_trips_through_the_export_line():
    obj = json.loads(FULL.to_jsonl())
    assert list(obj) == list(COLUMNS)
    assert Transcript.from_json(obj) == FULL


def test_csv_cells_are_formula_safe_and_in_column_order():
    evil = Transcript(developer_id="d", skill="s", user_id="u", utterance="=cmd|' /C calc'!A0", speech="+1",
                      error="@SUM(A1)", slots={})
    (header, line) = list(csv.reader(io.StringIO("".join(iter_csv([evil.to_json()])))))
    cells = dict(zip(header, line, strict=True))
    assert header == list(COLUMNS)
    assert (cells["utterance"], cells["speech"], cells["error"]) == ("'=cmd|' /C calc'!A0", "'+1", "'@SUM(A1)")
    assert cells["slots"] == "" and evil.to_csv()[0] == ""


@pytest.mark.parametrize(("obj", "problem"), [
    ([], "a JSON list"),
    ({"developer_id": "d", "skill": "s"}, "user_id must be a non-empty string"),
    ({"developer_id": "d", "skill": "s", "user_id": "u", "colour": 1}, "unknown key 'colour'"),
    ({"developer_id": "d", "skill": "s", "user_id": "u", "end_session": "yes"}, "end_session must be true"),
    ({"developer_id": "d", "skill": "s", "user_id": "u", "created_at": "yesterday"}, "created_at must be"),
    ({"developer_id": "d", "skill": "s", "user_id": "u", "latency_ms": True}, "latency_ms must be a number"),
    ({"developer_id": "d", "skill": "s", "user_id": "u", "redacted": "CARD"}, "redacted must be a list"),
])
def test_an_import_names_what_is_wrong(obj, problem):
    with pytest.raises(ValueError, match=problem):
        from_export(obj)


def test_storage_values_refuse_a_row_without_its_owner():
    with pytest.raises(StoreError, match="skill"):
        storage_values({"developer_id": "d", "user_id": "u"})


@pytest.mark.parametrize(("text", "iso"), [
    ("2026-11-28", "2026-11-28T00:00:00.000Z"),
    ("2026-11-28T09:30:00Z", "2026-11-28T09:30:00.000Z"),
    ("2026-11-28T10:30:00.123456+01:00", "2026-11-28T09:30:00.123Z"),
])
def test_one_timestamp_format(text, iso):
    assert to_iso(text) == iso == to_iso(parse_iso(text))


def test_a_bad_time_says_what_to_write():
    with pytest.raises(ValueError, match="ISO-8601"):
        to_iso("last tuesday")
