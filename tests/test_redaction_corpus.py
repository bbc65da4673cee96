"""The redactor against the labelled PII corpus and the hand-written adversarial set in tests/fixtures/pii."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import FIXTURES

from skills_sdk.transcripts.redaction import DEFAULT_REDACTOR

sys.path.insert(0, str(FIXTURES / "pii"))
from scoring import ADVERSARIAL, CORPUS, HELDOUT, KINDS, SPOKEN, SPOKEN_KINDS, load, score  # noqa: E402

CORPUS_ROWS = load(CORPUS)
ADVERSARIAL_ROWS = load(ADVERSARIAL)


def spans(text: str, locale: str) -> list[tuple[int, int, str]]:
    return DEFAULT_REDACTOR.spans(text, locale=locale)


def test_corpus_is_what_the_committed_script_generates(tmp_path) -> None:
    out = tmp_path / "corpus.jsonl"
    subprocess.run([sys.executable, str(FIXTURES / "pii" / "generate.py"), "--out", str(out)], check=True,
                   capture_output=True)  # fmt: skip
    assert out.read_text(encoding="utf-8") == CORPUS.read_text(encoding="utf-8")


def test_corpus_covers_every_kind_form_and_locale() -> None:
    assert len(CORPUS_ROWS) >= 2000
    assert {row["locale"] for row in CORPUS_ROWS} >= {"en-US", "en-GB", "de-DE"}
    assert {row["form"] for row in CORPUS_ROWS} == {"written", "asr"}
    assert {row["source"] for row in CORPUS_ROWS} == {"utterance", "response"}
    labelled = [span[2] for row in CORPUS_ROWS for span in row["spans"]]
    assert all(labelled.count(kind) >= 300 for kind in KINDS)
    assert sum(not row["spans"] for row in CORPUS_ROWS) >= 800  # same-shaped data that is not personal


@pytest.mark.parametrize("kind", KINDS)
def test_corpus_recall_and_precision_meet_the_targets(kind: str) -> None:
    result = score(CORPUS_ROWS, spans)[kind]
    assert result.recall >= 0.99, "\n".join(result.misses)
    assert result.precision >= 0.97, "\n".join(result.false_positives)


def test_no_corpus_line_leaks_personal_data() -> None:
    results = score(CORPUS_ROWS, spans)
    leaked = sum(result.leaked for result in results.values())
    assert leaked <= 0.01 * sum(result.labelled for result in results.values())


@pytest.mark.parametrize("row", ADVERSARIAL_ROWS, ids=[row["id"] for row in ADVERSARIAL_ROWS])
def test_adversarial_line_is_redacted_as_expected(row: dict) -> None:
    got = DEFAULT_REDACTOR.redact(row["text"], locale=row["locale"]).text
    assert got == row["expected"], json.dumps(row, ensure_ascii=False)


HELDOUT_ROWS = load(HELDOUT)


def test_heldout_set_is_what_the_committed_script_builds(tmp_path) -> None:
    out = tmp_path / "heldout.jsonl"
    subprocess.run([sys.executable, str(FIXTURES / "pii" / "heldout.py"), "--out", str(out)], check=True,
                   capture_output=True)  # fmt: skip
    assert out.read_text(encoding="utf-8") == HELDOUT.read_text(encoding="utf-8")


# The held-out set's scores when it was first scored (docs/privacy.md). They are below the targets
# and are not tuned towards: a change that lowers one is a regression on inputs nobody wrote for
# these rules, which this test reports.
HELDOUT_FLOORS = {"CARD": (1.0, 1.0), "PHONE": (0.89, 0.90), "EMAIL": (0.62, 0.97)}


@pytest.mark.parametrize("kind", KINDS)
def test_heldout_scores_do_not_fall(kind: str) -> None:
    result = score(HELDOUT_ROWS, spans)[kind]
    recall, precision = HELDOUT_FLOORS[kind]
    assert result.recall >= recall, "\n".join(result.misses)
    assert result.precision >= precision, "\n".join(result.false_positives)


SPOKEN_ROWS = load(SPOKEN)
SPOKEN_SOURCES = {
    "pswietojanski/slurp",
    "bringtree/SLU",
    "google-research-datasets/dstc8-schema-guided-dialogue",
}


def test_spoken_set_is_labelled_from_its_sources() -> None:
    assert len(SPOKEN_ROWS) >= 300
    assert len({row["text"] for row in SPOKEN_ROWS}) == len(SPOKEN_ROWS)
    assert {row["form"] for row in SPOKEN_ROWS} == {"asr", "written"}
    for row in SPOKEN_ROWS:
        assert row["source"].split(":")[0] in SPOKEN_SOURCES, row["id"]
        for start, end, kind in row["spans"] + row["keep"]:
            assert 0 <= start < end <= len(row["text"]) and kind, row["id"]


# The spoken set's scores (docs/privacy.md): what users said or typed to an assistant, from
# published datasets (SOURCES.md). It holds no phone or card number a user said, so those kinds
# are held only to precision: nothing of the sort may be found in it. Addresses were 38/60 when it
# was first scored; the address rule was then taught units, suffixless streets and "15099-A".
SPOKEN_FLOORS = {"CARD": (1.0, 1.0), "PHONE": (1.0, 1.0), "EMAIL": (1.0, 1.0), "ADDRESS": (0.98, 1.0)}


@pytest.mark.parametrize("kind", SPOKEN_KINDS)
def test_spoken_scores_do_not_fall(kind: str) -> None:
    result = score(SPOKEN_ROWS, spans, SPOKEN_KINDS)[kind]
    recall, precision = SPOKEN_FLOORS[kind]
    assert result.recall >= recall, "\n".join(result.misses)
    assert result.precision >= precision, "\n".join(result.false_positives)


def test_spoken_lines_without_personal_data_are_kept_whole() -> None:
    # Times, dates, amounts, flight numbers said as users say them: none of it may be replaced.
    changed = [row["id"] for row in SPOKEN_ROWS if not row["spans"] and spans(row["text"], row["locale"])]
    assert changed == []


def test_the_digits_only_reader_reads_what_the_full_reader_reads_where_no_digit_word_is() -> None:
    # The prefilter sends text without "four", "double", "plus", ... to a scan for digits alone;
    # where it does, both readers must give the same groups, and text with such words the full one.
    from skills_sdk.transcripts.redaction import numbers
    from skills_sdk.transcripts.redaction.numbers import sequence_words, sequences, words_of
    from skills_sdk.transcripts.redaction.text import view

    digits_only = 0
    for row in CORPUS_ROWS + ADVERSARIAL_ROWS:
        seen = view(row["text"])
        raw = seen.encode("ascii")
        words = sequence_words(words_of(raw), sum(char.isdigit() for char in seen))
        full = [seq.groups for seq in sequences(seen, True)]
        if words is None:
            assert full == []
        elif words is False:
            digits_only += 1
            assert [seq.groups for seq in sequences(seen, False)] == full
        else:  # the old reference: a token of the full reader that is a word
            assert any(not token.group()[0].isdigit() for token in numbers._TOKEN.finditer(seen))
    assert digits_only >= 500
