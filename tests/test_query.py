"""``TranscriptFilter``: one filter type, one query-string parser, one WHERE builder."""

from __future__ import annotations

import pytest

from skills_sdk.errors import BadQuery
from skills_sdk.transcripts.query import TranscriptFilter, fts_query, where


def test_unknown_fields_raise_naming_them():
    with pytest.raises(ValueError, match="unknown filter 'skil'"):
        TranscriptFilter.of({"skil": "pizza"})
    with pytest.raises(TypeError):
        TranscriptFilter(skil="pizza")  # type: ignore[call-arg]


def test_times_are_normalised_and_bad_values_refused():
    f = TranscriptFilter(since="2026-11-28", until="2026-11-29T00:00:00+01:00")
    assert (f.since, f.until) == ("2026-11-28T00:00:00.000Z", "2026-11-28T23:00:00.000Z")
    with pytest.raises(ValueError, match="skill"):
        TranscriptFilter(skill="")
    with pytest.raises(ValueError, match="has_transaction"):
        TranscriptFilter(has_transaction="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize(("args", "param"), [
    ({"colour": "red"}, "colour"),
    ({"since": "soon"}, "since"),
    ({"has_transaction": "maybe"}, "has_transaction"),
    ({"skill": ""}, "skill"),
    ({"q": "!!"}, "q"),
    ({"skill": "x" * 501}, "skill"),
])
def test_query_strings_are_checked_naming_the_parameter(args, param):
    with pytest.raises(BadQuery) as err:
        TranscriptFilter.from_args(args)
    assert err.value.param == param


def test_where_builds_every_field_with_the_drivers_placeholder():
    f = TranscriptFilter(developer_id="d", skill="s", since="2026-01-01", until="2026-02-01", has_transaction=False,
                         q='"x"')
    clauses, params = where(f, alias="t", placeholder="%s")
    assert clauses == ["t.developer_id = %s", "t.skill = %s", "t.created_at >= %s", "t.created_at < %s",
                       't."transaction" IS NULL']
    assert params == ["d", "s", "2026-01-01T00:00:00.000Z", "2026-02-01T00:00:00.000Z"]
    assert where(TranscriptFilter()) == ([], [])


def test_a_filter_is_false_when_nothing_is_set_and_replace_clears():
    assert not TranscriptFilter() and TranscriptFilter(skill="s")
    assert TranscriptFilter(skill="s", user_id="u").replace(user_id=None) == TranscriptFilter(skill="s")


def test_fts_query_quotes_each_word():
    assert fts_query('large "pepperoni" OR') == '"large" "pepperoni" "OR"'


def test_a_filter_behaves_as_a_frozen_dataclass():
    import dataclasses
    import pickle

    f = TranscriptFilter("acme", "pizza", since="2026-11-01")
    assert [x.name for x in dataclasses.fields(f)][:3] == ["developer_id", "skill", "user_id"]
    assert f == TranscriptFilter(developer_id="acme", skill="pizza", since="2026-11-01T00:00:00.000Z")
    assert hash(f) == hash(pickle.loads(pickle.dumps(f))) and pickle.loads(pickle.dumps(f)) == f
    assert dataclasses.replace(f, skill="coffee").skill == "coffee" and f.skill == "pizza"
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.skill = "coffee"  # type: ignore[misc]
    with pytest.raises(ValueError, match="filter skill must be a non-empty string"):
        TranscriptFilter("acme", "")
