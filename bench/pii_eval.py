"""PII redaction: recall and precision per kind, throughput, and hostile-input timings, beside presidio-analyzer.

Run: .venv/bin/python bench/pii_eval.py [--misses]
     .venv/bin/python bench/pii_eval.py --against OLD  # an older redaction module or package, e.g.
         git archive REF skills_sdk/transcripts/redaction | tar -x -C /tmp/old
         .venv/bin/python bench/pii_eval.py --against /tmp/old/skills_sdk/transcripts/redaction

Scores skills_sdk's redactor, presidio-analyzer's pattern recognizers (CreditCardRecognizer,
PhoneRecognizer, EmailRecognizer, used directly: no NLP engine, so no spaCy model) and
phonenumbers' PhoneNumberMatcher (phones only) on the same corpus in the same run:

* the labelled corpus ``tests/fixtures/pii/corpus.jsonl`` (written and ASR text, six locales) and the
  hand-written adversarial set ``tests/fixtures/pii/adversarial.jsonl``;
* the held-out set ``tests/fixtures/pii/heldout.jsonl``: other projects' test data (SOURCES.md), scored
  the same way and never used to tune a rule;
* throughput on one core: the corpus redacted line by line, in MB/s of UTF-8 text, the median of
  interleaved rounds of every detector and of a bare ``[0-9]+`` scan (for scale);
* 1 MB hostile inputs (the quadratic shapes, nested separators, "@" storms): wall time per input,
  with the per-field scan cap as shipped and with the cap lifted (what the scan itself costs).

presidio-analyzer is not a dependency of skills_sdk. To include it:
``pip install presidio-analyzer`` in the environment that runs this script. Without it the
comparison is with PhoneNumberMatcher alone.
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import phonenumbers

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "pii"))
from scoring import ADVERSARIAL, CORPUS, HELDOUT, KINDS, Span, load, score  # noqa: E402

from skills_sdk.transcripts.redaction import MAX_SCAN_CHARS, Redactor, speedups, verdicts  # noqa: E402

OURS = Redactor(kinds=["CARD", "PHONE", "EMAIL"])
UNCAPPED = Redactor(kinds=["CARD", "PHONE", "EMAIL"], max_chars=4 * 1024 * 1024)
MB = 1024 * 1024

HOSTILE: dict[str, Callable[[], str]] = {
    '"a." x 20000 + " @ x", repeated': lambda: ("a." * 20000 + " @ x") * 26,
    '"@" storm': lambda: "@" * MB,
    '"a@" storm': lambda: "a@" * (MB // 2),
    '"a.b@" storm': lambda: "a.b@c " * (MB // 6),
    "digits joined by nested separators": lambda: "4-/-1 ,_1 \u200b1 " * (MB // 16),
    "one long digit run, single spaces": lambda: "1 " * (MB // 2),
    "7-digit numbers, glued": lambda: "1234567 x " * (MB // 10),
    "spoken digits": lambda: "four one five " * (MB // 14),
    '" at ... dot " storm': lambda: "jane at gmail dot " * (MB // 18),
}


def ours(text: str, locale: str) -> list[Span]:
    return OURS.spans(text, locale=locale)


def matcher(text: str, locale: str) -> list[Span]:
    region = locale.split("-")[1]
    return [(m.start, m.end, "PHONE") for m in phonenumbers.PhoneNumberMatcher(text, region)]


def presidio_detector() -> Callable[[str, str], list[Span]] | str:
    """presidio's three pattern recognizers as a detector, or why they cannot run here."""
    try:
        import tldextract
        from presidio_analyzer.predefined_recognizers import (
            CreditCardRecognizer,
            EmailRecognizer,
            PhoneRecognizer,
        )
    except ImportError as error:
        return f"presidio-analyzer is not installed ({error}); run `pip install presidio-analyzer` to include it"
    # EmailRecognizer asks tldextract, which downloads the public-suffix list on first use: use the
    # snapshot bundled with tldextract instead, so the run stays offline.
    tldextract.extract = tldextract.TLDExtract(suffix_list_urls=())
    regions = ("US", "GB", "DE", "FR", "IL", "IN", "CA", "BR", "AU")  # presidio's default, plus AU
    recognizers = [
        (CreditCardRecognizer(), "CARD"),
        (PhoneRecognizer(supported_regions=regions), "PHONE"),
        (EmailRecognizer(), "EMAIL"),
    ]

    def detect(text: str, locale: str) -> list[Span]:
        spans: list[Span] = []
        for recognizer, kind in recognizers:
            for result in recognizer.analyze(text, recognizer.supported_entities, None):
                spans.append((result.start, result.end, kind))
        return spans

    return detect


def throughputs(detectors: dict[str, Callable[[str, str], Iterable[Span]]], rows: list[dict], rounds: int) -> dict[str, float]:
    """MB/s of UTF-8 text over ``rows`` for each detector, one call per row, in CPU time of this process.

    The detectors take turns, ``rounds`` times, and each one's median is kept: the machine is
    shared, so a slow moment falls on one round of all of them rather than on one of them. CPU
    time rather than wall time: waiting for a core is not the detector's cost. libphonenumber
    verdicts are cached per process; the cache is emptied before each of our rounds, so every
    number is checked afresh, as distinct numbers in real traffic are.
    """
    size = sum(len(row["text"].encode()) for row in rows)
    times: dict[str, list[float]] = {name: [] for name in detectors}
    for _ in range(rounds):
        for name, detect in detectors.items():
            verdicts.verdict.cache_clear()
            started = time.process_time()
            for row in rows:
                detect(row["text"], row["locale"])
            times[name].append(time.process_time() - started)
    return {name: size / statistics.median(spent) / MB for name, spent in times.items()}


def _time_one(name: str, which: str, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    text = HOSTILE[name]()
    if which == "presidio":
        detect = presidio_detector()
        assert callable(detect)
        started = time.process_time()
        detect(text, "en-US")
    else:
        redactor = OURS if which == "ours" else UNCAPPED
        started = time.process_time()
        redactor.redact(text, locale="en-US")
    out.put(time.process_time() - started)


def time_hostile(name: str, which: str, timeout: float) -> str:
    """CPU time to process the hostile input ``name``, in a child process stopped after ``timeout`` (wall)."""
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    child = multiprocessing.Process(target=_time_one, args=(name, which, queue))
    child.start()
    child.join(timeout)
    if child.is_alive():
        child.terminate()
        child.join()
        return f"> {timeout:.0f} s"
    return f"{queue.get() * 1000:.0f} ms"


def against(path: Path, corpus: list[dict], rounds: int) -> None:
    """Time an older redaction module (one file) beside this one, interleaved, and print the ratios."""
    if path.is_dir():  # the redaction package of an older checkout
        spec = importlib.util.spec_from_file_location(
            "older_redaction", path / "__init__.py", submodule_search_locations=[str(path)]
        )
    else:
        spec = importlib.util.spec_from_file_location("older_redaction", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"--against {path}: not a Python module or package. Extract one with git show or git archive.")
    older = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = older  # dataclasses look their module up while the class is made
    spec.loader.exec_module(older)
    old = older.Redactor(kinds=["CARD", "PHONE", "EMAIL"])
    caches = [getattr(older, name).cache_clear for name in ("_phone_verdict",) if hasattr(older, name)]
    if hasattr(older, "verdicts"):
        caches.append(older.verdicts.verdict.cache_clear)
    # This redactor twice: with its C twins (where they were built) and with the Python code alone.
    runs = [("older", old, caches, None), ("this, Python only", OURS, [verdicts.verdict.cache_clear], False)]
    if speedups.available():
        runs.append(("this", OURS, [verdicts.verdict.cache_clear], True))
    was = speedups.compiled()
    print(f"== this redactor against {path} (CPU time, median of {rounds} interleaved rounds)")
    fields = [{"text": " ".join(row["text"] for row in corpus[i : i + 40]), "locale": corpus[i]["locale"]}
              for i in range(0, len(corpus), 40)]  # fmt: skip
    for title, rows in (("corpus, line by line", corpus), ("lines without PII", [r for r in corpus if not r["spans"]]),
                        ("corpus as 2 KB fields", fields)):  # fmt: skip
        size = sum(len(row["text"].encode()) for row in rows)
        times: dict[str, list[float]] = {name: [] for name, *_ in runs}
        for _ in range(rounds):
            for name, redactor, clear, compiled in runs:
                if compiled is not None:
                    speedups.use(compiled)
                for empty in clear:
                    empty()
                started = time.process_time()
                for row in rows:
                    redactor.spans(row["text"], locale=row["locale"])
                times[name].append(time.process_time() - started)
        before = statistics.median(times["older"])
        cells = [f"{name} {size / statistics.median(times[name]) / MB:5.2f} MB/s" for name, *_ in runs]
        ratios = [f"{before / statistics.median(times[name]):.2f}x" for name, *_ in runs[1:]]
        print(f"{title:24} {', '.join(cells)} ({' and '.join(ratios)} the older)")
    speedups.use(was)
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", action="store_true", help="print every miss and false positive")
    parser.add_argument("--timeout", type=float, default=60.0, help="wall seconds allowed per hostile input")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per throughput figure")
    parser.add_argument("--against", type=Path, help="an older redaction module to time beside this one, then stop")
    args = parser.parse_args()
    which = "its C twins (_speedups.c)" if speedups.compiled() else "its Python code only"
    print(f"== skills_sdk's redactor runs {which}; {speedups.PURE_ENV}=1 runs the Python code\n")
    if args.against:
        against(args.against, load(CORPUS), max(args.rounds, 9))
        return

    corpus = load(CORPUS)
    adversarial = load(ADVERSARIAL)
    heldout = load(HELDOUT)
    negatives = [row for row in corpus if not row["spans"]]
    presidio = presidio_detector()
    detectors: dict[str, Callable[[str, str], list[Span]]] = {"skills_sdk": ours}
    if callable(presidio):
        detectors["presidio (patterns)"] = presidio
    else:
        print(f"note: {presidio}")
    detectors["PhoneNumberMatcher"] = matcher

    locales = sorted({row["locale"] for row in corpus})
    print(f"corpus: {len(corpus)} lines ({len(negatives)} without PII), locales {', '.join(locales)}; "
          f"adversarial set: {len(adversarial)} lines; held-out set: {len(heldout)} lines from other projects' tests")
    print("machine: shared, 2 cores, other work running; one process, one core\n")
    header = f"{'detector':22} {'kind':6} {'labelled':>8} {'recall':>8} {'precision':>9} {'leaked':>7}"
    sets = (("corpus", corpus), ("adversarial set", adversarial),
            ("held-out set (NeMo, Presidio, libphonenumber tests; see tests/fixtures/pii/SOURCES.md)", heldout))
    for title, rows in sets:
        print(f"== {title}")
        print(header)
        for name, detect in detectors.items():
            scores = score(rows, detect)
            for kind in KINDS:
                if name == "PhoneNumberMatcher" and kind != "PHONE":
                    continue
                s = scores[kind]
                print(f"{name:22} {kind:6} {s.labelled:8d} {s.recall:8.2%} {s.precision:9.2%} {s.leaked:7d}")
                if args.misses:
                    for line in s.misses + [f"FP {fp}" for fp in s.false_positives]:
                        print("      ", line)
        print()

    every_kind = Redactor()  # the expected texts also replace coordinates
    exact = sum(every_kind.redact(row["text"], locale=row["locale"]).text == row["expected"] for row in adversarial)
    print(f"adversarial set redacted exactly as expected by skills_sdk: {exact}/{len(adversarial)}")
    for title, rows in (("corpus", negatives), ("held-out set", [row for row in heldout if not row["spans"]])):
        for name, detect in detectors.items():
            kept = sum(not [s for s in detect(row["text"], row["locale"]) if s[2] in KINDS] for row in rows)
            print(f"{title} lines without PII left untouched by {name}: {kept}/{len(rows)}")
    print()

    print(f"== throughput on one core (CPU time, median of {args.rounds} interleaved rounds)")
    digits = re.compile(r"[0-9]+")
    timed = {**detectors, "bare [0-9]+ scan": lambda text, locale: [(m.start(), m.end(), "") for m in digits.finditer(text)]}
    fields = [{"text": " ".join(row["text"] for row in corpus[i : i + 40]), "locale": corpus[i]["locale"]}
              for i in range(0, len(corpus), 40)]  # fmt: skip
    for title, rows in (("corpus, line by line", corpus), ("lines without PII", negatives),
                        ("corpus as 2 KB fields", fields)):  # fmt: skip
        speeds = throughputs(timed, rows, args.rounds)
        mine = speeds["skills_sdk"]
        line = f"{title:24} skills_sdk {mine:6.2f} MB/s"
        for name, speed in speeds.items():
            if name != "skills_sdk":
                line += f" | {name} {speed:5.2f} MB/s ({mine / speed:.2f}x)"
        print(line)
    print()

    print(f"== 1 MB hostile inputs (CPU time; scan cap {MAX_SCAN_CHARS:,} characters per field)")
    columns = ["ours", "uncapped"] + (["presidio"] if callable(presidio) else [])
    print(f"{'input':38} {'skills_sdk':>11} {'cap lifted':>11}" + (f" {'presidio':>11}" if callable(presidio) else ""))
    for name in HOSTILE:
        cells = [time_hostile(name, which, args.timeout) for which in columns]
        print(f"{name:38} " + " ".join(f"{cell:>11}" for cell in cells))


if __name__ == "__main__":
    main()
