"""A local NLU that turns typed text into intent + slots from a skill's own interaction model."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from skills_sdk._frozen import NEW_DICT, RECORD, Frozen, set_field
from skills_sdk.errors import ModelError
from skills_sdk.model import BUILTIN_INTENTS, BUILTIN_SLOT_TYPES, IntentModel, InteractionModel, SlotType

__all__ = [
    "Matcher",
    "ModelProblem",
    "NluResult",
    "SlotMatch",
    "compile_model",
    "export_model",
    "validate_model",
    "words_to_number",
]

FALLBACK_INTENT = "AMAZON.FallbackIntent"
MATCH = "ER_SUCCESS_MATCH"
NO_MATCH = "ER_SUCCESS_NO_MATCH"

#: Samples a built-in intent answers to without the model listing any; the model may add more.
#: The BUILTIN_INTENTS are always matched; the others only when the model lists them.
DEFAULT_SAMPLES: Mapping[str, tuple[str, ...]] = {
    "AMAZON.HelpIntent": ("help", "help me", "what can I do", "what can you do"),
    "AMAZON.StopIntent": ("stop", "shut up", "off"),
    "AMAZON.CancelIntent": ("cancel", "never mind", "nevermind", "forget it"),
    "AMAZON.NavigateHomeIntent": ("go home",),
    "AMAZON.FallbackIntent": (),
    "AMAZON.YesIntent": ("yes", "yeah", "yep", "sure", "okay"),
    "AMAZON.NoIntent": ("no", "nope", "no thanks"),
    "AMAZON.PauseIntent": ("pause",),
    "AMAZON.ResumeIntent": ("resume", "continue"),
    "AMAZON.RepeatIntent": ("repeat", "say that again"),
    "AMAZON.StartOverIntent": ("start over", "restart"),
    "AMAZON.NextIntent": ("next", "skip"),
    "AMAZON.PreviousIntent": ("previous", "go back"),
}

#: The same built-ins as German users say them: a model of a German locale is matched with these.
GERMAN_DEFAULT_SAMPLES: Mapping[str, tuple[str, ...]] = {
    "AMAZON.HelpIntent": ("hilfe", "hilf mir", "was kann ich sagen", "was kannst du"),
    "AMAZON.StopIntent": ("stopp", "stop", "halt", "aus"),
    "AMAZON.CancelIntent": ("abbrechen", "vergiss es", "egal"),
    "AMAZON.NavigateHomeIntent": ("startseite", "zur startseite"),
    "AMAZON.FallbackIntent": (),
    "AMAZON.YesIntent": ("ja", "ja bitte", "genau", "klar"),
    "AMAZON.NoIntent": ("nein", "nein danke", "nö"),
    "AMAZON.PauseIntent": ("pause", "pausieren"),
    "AMAZON.ResumeIntent": ("weiter", "fortsetzen"),
    "AMAZON.RepeatIntent": ("wiederholen", "noch einmal"),
    "AMAZON.StartOverIntent": ("von vorne", "neu starten"),
    "AMAZON.NextIntent": ("nächster", "nächstes", "überspringen"),
    "AMAZON.PreviousIntent": ("zurück", "vorheriger", "vorheriges"),
}


def default_samples(locale: str | None) -> Mapping[str, tuple[str, ...]]:
    """The built-in intents' samples for ``locale``: German for ``de-*``, English otherwise."""
    return GERMAN_DEFAULT_SAMPLES if (locale or "").lower().startswith("de") else DEFAULT_SAMPLES

# Words that may come before the invocation name, and words that join it to the request
# ("ask pizza shop TO order a pizza"); from Alexa's documented invocation phrases (English and German).
_LAUNCH_VERBS = tuple(
    tuple(v.split())
    for v in ("open", "launch", "start", "begin", "load", "run", "use", "talk to", "speak to", "ask", "tell",
              "öffne", "starte", "frag", "frage", "sag", "sage", "spiele")
)
_CONNECTORS = frozenset({"to", "for", "and", "about", "if", "whether", "that", "nach", "ob", "dass", "zu", "und"})

# Alexa limits utterances; the cap also bounds matching time on pasted walls of text.
_MAX_WORDS = 100
_MAX_NUMBER_WORDS = 12

_APOSTROPHES = re.compile(r"['’‘`]")
_DIGIT_GROUPS = re.compile(r"(?<=\d),(?=\d{3})")
_WORDS = re.compile(r"[^\W_]+")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_SLOT_NAME = re.compile(r"\w+")
# Letters of any script ("assistent für minecraft", "コーヒーショップ"), as the model rules take them.
_INVOCATION = re.compile(r"[^\W\d_A-Z][^\W\d_A-Z'.]*(?: [^\W\d_A-Z][^\W\d_A-Z'.]*)*")


def _words(text: str) -> tuple[str, ...]:
    """Lowercase words of ``text``: punctuation and spacing dropped, "what's" == "whats"."""
    text = _DIGIT_GROUPS.sub("", _APOSTROPHES.sub("", text.lower()))
    return tuple(_WORDS.findall(text))


# --- results ---------------------------------------------------------------------------------


@dataclass(**RECORD)  # frozen: see skills_sdk._frozen
class SlotMatch(Frozen):
    """One filled slot: what the user said and, for custom types, what it resolved to."""

    name: str
    value: str
    resolved: str | None
    id: str | None
    status: str | None
    type: str
    #: The other values the words resolve to, ``(name, id)`` each: a synonym several values share
    #: resolves to all of them, as Alexa lists them after the first.
    others: tuple[tuple[str, str | None], ...] = ()

    def __init__(self, name: str, value: str, resolved: str | None, id: str | None,  # noqa: A002
                 status: str | None, type: str, others: tuple[tuple[str, str | None], ...] = ()) -> None:  # noqa: A002
        set_field(self, "name", name)
        set_field(self, "value", value)
        set_field(self, "resolved", resolved)
        set_field(self, "id", id)
        set_field(self, "status", status)
        set_field(self, "type", type)
        set_field(self, "others", others)


@dataclass(**RECORD)  # frozen: see skills_sdk._frozen
class NluResult(Frozen):
    """What an utterance means: a launch, or an intent with its filled slots.

    Slots the utterance did not fill are absent from ``slots``.
    """

    kind: str
    intent: str | None
    slots: dict[str, SlotMatch] = field(default_factory=dict)
    sample: str | None = None

    def __init__(self, kind: str, intent: str | None, slots: dict[str, SlotMatch] = NEW_DICT,
                 sample: str | None = None) -> None:
        set_field(self, "kind", kind)
        set_field(self, "intent", intent)
        set_field(self, "slots", {} if slots is NEW_DICT else slots)
        set_field(self, "sample", sample)


def _fallback() -> NluResult:
    # A fresh result each time: ``slots`` is a dict a caller may change.
    return NluResult(kind="intent", intent=FALLBACK_INTENT, slots={}, sample=None)


# --- numbers ---------------------------------------------------------------------------------

_UNITS = {w: i for i, w in enumerate("one two three four five six seven eight nine".split(), 1)}
_TEENS = {
    w: i
    for i, w in enumerate(
        "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split(), 10
    )
}
_TENS = {w: i * 10 for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)}
_SCALES = {"thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_NUMBER_STARTS = frozenset({*_UNITS, *_TEENS, *_TENS, "a", "zero"})


def _below_hundred(ws: Sequence[str], i: int) -> tuple[int, int] | None:
    w = ws[i]
    if w in _TENS:
        if i + 1 < len(ws) and ws[i + 1] in _UNITS:
            return _TENS[w] + _UNITS[ws[i + 1]], i + 2
        return _TENS[w], i + 1
    if w in _UNITS:
        return _UNITS[w], i + 1
    if w in _TEENS:
        return _TEENS[w], i + 1
    return None


def _below_thousand(ws: Sequence[str], i: int) -> tuple[int, int] | None:
    if i >= len(ws):
        return None
    w, nxt = ws[i], ws[i + 1] if i + 1 < len(ws) else None
    if nxt == "hundred" and (w == "a" or w in _UNITS or w in _TEENS):  # "fifteen hundred" is 1500
        value, j = 100 * (_UNITS.get(w) or _TEENS.get(w) or 1), i + 2
        rest = j + 1 if j < len(ws) and ws[j] == "and" else j
        tail = _below_hundred(ws, rest) if rest < len(ws) else None
        return (value + tail[0], tail[1]) if tail else (value, j)
    if w == "a" and nxt in _SCALES:
        return 1, i + 1
    return _below_hundred(ws, i)


_ORDINALS = {
    **{w: i for i, w in enumerate("first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
                                  "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth".split(), 1)},
    **{w: i * 10 for i, w in enumerate("twentieth thirtieth fortieth fiftieth sixtieth seventieth eightieth "
                                       "ninetieth".split(), 2)},
}
_ORDINAL_DIGITS = re.compile(r"(\d+)(?:st|nd|rd|th)")
_DIGIT_WORDS = {"zero": 0, "oh": 0, "o": 0, **_UNITS}


def words_to_ordinal(words: Sequence[str]) -> int | None:
    """The number an ordinal says (``AMAZON.Ordinal``), or None: "twenty first" and "21st" are 21.

    >>> words_to_ordinal("twenty first".split()), words_to_ordinal(["3rd"]), words_to_ordinal(["third", "one"])
    (21, 3, None)
    """
    if len(words) == 1 and (digits := _ORDINAL_DIGITS.fullmatch(words[0])):
        return int(digits[1])
    if not words or words[-1] not in _ORDINALS:
        return None
    last, head = _ORDINALS[words[-1]], [w for w in words[:-1] if w != "and"]
    if not head:
        return last
    base = words_to_number(head)
    if base is None or (last < 10 and base % 10) or (last >= 10 and base % 100):
        return None  # "twenty first", "a hundred and twelfth"; not "twenty one first"
    return base + last


def words_to_year(words: Sequence[str]) -> int | None:
    """The number a four-digit slot (``AMAZON.FOUR_DIGIT_NUMBER``) hears, or None.

    Years as they are said ("nineteen eighty four", "twenty twenty", "nineteen oh five"), numbers
    ("two thousand and five") and digits one by one ("one two three four").

    >>> [words_to_year(t.split()) for t in ("nineteen eighty four", "nineteen oh five", "one two three four")]
    [1984, 1905, 1234]
    """
    if (value := words_to_number(words)) is not None:
        return value if value < 10_000 else None
    if len(words) == 4 and all(w in _DIGIT_WORDS for w in words):
        return int("".join(str(_DIGIT_WORDS[w]) for w in words))
    for k in range(1, len(words)):
        high, rest = words_to_number(words[:k]), words[k:]
        if high is None or not 10 <= high <= 99:
            continue
        if len(rest) == 2 and rest[0] in ("oh", "o") and rest[1] in _UNITS:
            return high * 100 + _UNITS[rest[1]]
        low = words_to_number(rest)
        if low is not None and 10 <= low <= 99:
            return high * 100 + low
    return None


def words_to_number(words: Sequence[str]) -> int | None:
    """The integer that number words spell, or None if they do not spell exactly one.

    >>> words_to_number("a hundred and five".split())
    105
    """
    if list(words) == ["zero"]:
        return 0
    total, i, last_scale = 0, 0, None
    while True:
        part = _below_thousand(words, i)
        if part is None:
            return None
        value, i = part
        if i < len(words) and words[i] in _SCALES:
            scale = _SCALES[words[i]]
            if last_scale is not None and scale >= last_scale:
                return None
            total, last_scale, i = total + value * scale, scale, i + 1
            if i == len(words):
                return total
            if words[i] == "and":
                i += 1
            continue
        return total + value if i == len(words) else None


#: The built-in slot types heard as numbers, by kind; the words each kind reads, and where they start.
_NUMBER_KINDS = {"AMAZON.NUMBER": "number", "AMAZON.Ordinal": "ordinal", "AMAZON.FOUR_DIGIT_NUMBER": "year"}
_SPOKEN = {"number": words_to_number, "ordinal": words_to_ordinal, "year": words_to_year}
_SPOKEN_STARTS = {"number": _NUMBER_STARTS, "ordinal": _NUMBER_STARTS | frozenset(_ORDINALS), "year": _NUMBER_STARTS}


# --- compiled samples ------------------------------------------------------------------------


# Plain classes with __slots__, not dataclasses: nothing compares, hashes or prints them, and a
# dataclass costs about 1 ms to create at import, which every process that validates a model pays.
class _Slot:
    __slots__ = ("name", "type", "kind", "values", "lengths")

    def __init__(self, name: str, type: str, kind: str,  # noqa: A002 (the slot's type name)
                 values: Mapping[tuple[str, ...], tuple[tuple[str, str | None], ...]] | None = None,
                 lengths: tuple[int, ...] = ()) -> None:
        self.name = name
        self.type = type
        self.kind = kind  # "custom", "free", or a kind of number: "number", "ordinal", "year"
        self.values = {} if values is None else values
        self.lengths = lengths  # lengths of known values, longest first


_Element = tuple[str, ...] | _Slot  # a run of literal words, or a slot


class _Sample:
    __slots__ = ("intent", "text", "elements", "order", "n_literals", "literals", "min_after", "min_words",
                 "allow_free")

    def __init__(self, *, intent: str, text: str, elements: tuple[_Element, ...], order: tuple[int, int],
                 n_literals: int, literals: frozenset[str], min_after: tuple[int, ...], min_words: int,
                 allow_free: bool) -> None:
        self.intent = intent
        self.text = text
        self.elements = elements
        self.order = order  # (intent, sample) position: ties go to the first registered
        self.n_literals = n_literals
        self.literals = literals
        self.min_after = min_after  # fewest words the elements after each position need
        self.min_words = min_words
        self.allow_free = allow_free  # a sample of slots only must not swallow every utterance as NO_MATCH text


class _Candidate:
    __slots__ = ("length", "slot", "free", "known")

    def __init__(self, length: int, slot: SlotMatch, free: int, known: int) -> None:
        self.length = length
        self.slot = slot
        self.free = free
        self.known = known


_Parse = tuple[tuple[int, int], tuple[SlotMatch, ...]]  # ((-free captures, known values), slots)


def _slot_candidates(
    slot: _Slot, words: tuple[str, ...], i: int, room: int, sample: _Sample, stop: str | None, last: bool
) -> Iterator[_Candidate]:
    """Ways ``slot`` can fill words[i:]: known values and numbers first, then free text, longest first."""
    if slot.kind == "custom":
        for n in slot.lengths:
            if n <= room and (hit := slot.values.get(words[i : i + n])) is not None:
                (name, id_), *others = hit
                yield _Candidate(
                    n,
                    SlotMatch(slot.name, " ".join(words[i : i + n]), name, id_, MATCH, slot.type, tuple(others)),
                    0,
                    1,
                )
    elif slot.kind in _SPOKEN:
        w = words[i]
        if w.isascii() and w.isdigit():
            # str(int(w)) would fail on thousands of digits; stripping zeros is all it did (a year keeps them).
            said = w if slot.kind == "year" else w.lstrip("0") or "0"
            yield _Candidate(1, SlotMatch(slot.name, said, None, None, None, slot.type), 0, 1)
        elif w in _SPOKEN_STARTS[slot.kind] or _ORDINAL_DIGITS.fullmatch(w):
            for n in range(min(room, _MAX_NUMBER_WORDS), 0, -1):
                if (value := _SPOKEN[slot.kind](words[i : i + n])) is not None:
                    # Known words, not one known value: beside free text, "march twenty first" is
                    # March and the 21st, not "march twenty" and the 1st.
                    yield _Candidate(n, SlotMatch(slot.name, str(value), None, None, None, slot.type), 0, n)
        return
    if not sample.allow_free:
        return
    status = NO_MATCH if slot.kind == "custom" else None
    lengths = (room,) if last else range(room, 0, -1)
    for n in lengths:
        if stop is None or last or words[i + n] == stop:
            yield _Candidate(
                n, SlotMatch(slot.name, " ".join(words[i : i + n]), None, None, status, slot.type), 1, 0
            )


def _parse(sample: _Sample, words: tuple[str, ...]) -> _Parse | None:
    """The best way ``sample`` covers all of ``words``, or None."""
    memo: dict[tuple[int, int], _Parse | None] = {}
    elements, end = sample.elements, len(sample.elements)

    def best(e: int, i: int) -> _Parse | None:
        if e == end:
            return ((0, 0), ()) if i == len(words) else None
        if (e, i) in memo:
            return memo[e, i]
        el, result = elements[e], None
        if isinstance(el, tuple):
            if words[i : i + len(el)] == el:
                result = best(e + 1, i + len(el))
        else:
            room = len(words) - i - sample.min_after[e]
            if room > 0:
                nxt = elements[e + 1] if e + 1 < end else None
                stop = nxt[0] if isinstance(nxt, tuple) else None
                for c in _slot_candidates(el, words, i, room, sample, stop, nxt is None):
                    rest = best(e + 1, i + c.length)
                    if rest is not None:
                        score = (rest[0][0] - c.free, rest[0][1] + c.known)
                        if result is None or score > result[0]:
                            result = (score, (c.slot, *rest[1]))
        memo[e, i] = result
        return result

    return best(0, 0)


class Matcher:
    """A skill's interaction model compiled for matching; build it with :func:`compile_model`."""

    def __init__(self, invocation: tuple[str, ...], samples: Sequence[_Sample]) -> None:
        self.invocation = invocation
        # Most literal words first, so the scan can stop once no later sample can beat the best.
        self._samples = sorted(samples, key=lambda s: (-s.n_literals, s.order))

    def __repr__(self) -> str:
        return f"<Matcher {' '.join(self.invocation)!r}: {len(self._samples)} samples>"

    def match(self, text: str) -> NluResult:
        """What ``text`` means to this skill; never raises, and falls back to AMAZON.FallbackIntent.

        >>> matcher.match("ask pizza shop for a large pizza").slots["size"].resolved  # doctest: +SKIP
        'large'
        """
        words = _words(text)
        if not words or len(words) > _MAX_WORDS:
            return _fallback()
        routed = self._route(words)
        if routed is None:
            return NluResult(kind="launch", intent=None, slots={}, sample=None)
        for candidate in routed:
            result = self._match_intent(candidate)
            if result is not None:
                return result
        return _fallback()

    def _route(self, words: tuple[str, ...]) -> list[tuple[str, ...]] | None:
        """Strip an invocation phrase: None for a bare launch, else the word runs to try, best first."""
        if words[0] == "alexa":
            words = words[1:]
        inv = self.invocation
        for verb in _LAUNCH_VERBS:
            if words[: len(verb)] == verb and words[len(verb) : len(verb) + len(inv)] == inv:
                rest = words[len(verb) + len(inv) :]
                if not rest or (len(rest) == 1 and rest[0] in _CONNECTORS):
                    return None
                return [rest[1:], rest] if rest[0] in _CONNECTORS else [rest]
        return [words] if words else []

    def _match_intent(self, words: tuple[str, ...]) -> NluResult | None:
        present = frozenset(words)
        best: tuple[_Sample, _Parse] | None = None
        for sample in self._samples:
            if best is not None and sample.n_literals < best[0].n_literals:
                break
            if len(words) < sample.min_words:
                continue
            if not sample.literals <= present:
                continue
            first = sample.elements[0]
            if isinstance(first, tuple) and words[: len(first)] != first:
                continue
            parsed = _parse(sample, words)
            # Ranking: literal words matched, then fewer free-text captures, then more known values.
            if parsed is not None and (
                best is None or (sample.n_literals, parsed[0]) > (best[0].n_literals, best[1][0])
            ):
                best = (sample, parsed)
        if best is None:
            return None
        sample, (_, slots) = best
        return NluResult(
            kind="intent", intent=sample.intent, slots={s.name: s for s in slots}, sample=sample.text
        )


# --- validation and compilation --------------------------------------------------------------


def resolutions(slot_type: SlotType) -> dict[tuple[str, ...], tuple[tuple[str, str | None], ...]]:
    """What each said form of ``slot_type``'s values resolves to: its words -> ``((name, id), ...)``.

    A value whose name was said comes first, then the values that have it as a synonym, in the
    order declared: a synonym several values share resolves to all of them, as Alexa does.

    >>> resolutions(SlotType.of("Size", {"large": ["big"], "extra large": ["big", "huge"]}))[("big",)]
    (('large', 'LARGE'), ('extra large', 'EXTRA_LARGE'))
    """
    found: dict[tuple[str, ...], list[tuple[str, str | None]]] = {}
    for v in slot_type.values:
        found.setdefault(_words(v.name), []).append((v.name, v.id))
    for v in slot_type.values:
        for synonym in v.synonyms:
            hits = found.setdefault(_words(synonym), [])
            if (v.name, v.id) not in hits:
                hits.append((v.name, v.id))
    found.pop((), None)
    return {words: tuple(hits) for words, hits in found.items()}


def _quote_all(names: Sequence[str]) -> str:
    return ", ".join(f"'{n}'" for n in names) or "none"


def _slot(name: str, type_name: str, types: Mapping[str, SlotType]) -> _Slot:
    if type_name in types:
        values = resolutions(types[type_name])
        return _Slot(name, type_name, "custom", values, tuple(sorted({len(k) for k in values}, reverse=True)))
    return _Slot(name, type_name, _NUMBER_KINDS.get(type_name, "free"))


def _check_slot_type(intent: str, slot: str, type_name: str, types: Mapping[str, SlotType]) -> str | None:
    if type_name in types:
        return None
    known = {t.upper(): t for t in BUILTIN_SLOT_TYPES}
    if type_name.startswith("AMAZON.") and (
        type_name not in BUILTIN_SLOT_TYPES and type_name.upper() in known
    ):
        return (
            f"Slot '{slot}' of intent '{intent}' has type '{type_name}'; the built-in is spelled "
            f"'{known[type_name.upper()]}'. Fix the spelling in slots={{...}}."
        )
    if type_name.startswith("AMAZON."):
        if type_name in BUILTIN_SLOT_TYPES:
            return None
        import difflib  # only for a built-in the SDK does not list: off the cold path

        # Alexa has many more built-ins than these; one letter off one of these is a typo, not another.
        close = difflib.get_close_matches(type_name.upper(), known, n=1, cutoff=0.9)
        if close:
            return (
                f"Slot '{slot}' of intent '{intent}' has type '{type_name}', which is no built-in Alexa knows; "
                f"did you mean '{known[close[0]]}'? Fix the spelling in slots={{...}}."
            )
        return None
    return (
        f"Slot '{slot}' of intent '{intent}' has type '{type_name}', which is neither a custom slot type "
        f"nor an AMAZON.* built-in. Custom types: {_quote_all(sorted(types))}. Declare it with "
        f"skill.slot_type('{type_name}', [...]) or use a built-in such as 'AMAZON.NUMBER'."
    )


class ModelProblem(str):
    """One problem :func:`validate_model` found: its message, and the ``intent``, ``sample`` or ``slot`` it is about.

    It is the message itself (a ``str``), so it prints and joins as one; :attr:`ModelError.problems`
    holds one per problem, for a tool that leaves a piece out rather than reading the text.

    >>> p = ModelProblem("Sample 'hi' of intent 'A' ...", intent="A", sample="hi")
    >>> (p.intent, p.sample, p.slot)
    ('A', 'hi', None)
    """

    intent: str | None
    sample: str | None
    slot: str | None

    def __new__(cls, message: str, *, intent: str | None = None, sample: str | None = None,
                slot: str | None = None) -> ModelProblem:
        problem = super().__new__(cls, message)
        problem.intent, problem.sample, problem.slot = intent, sample, slot
        return problem


def _compile_sample(
    intent: str, text: str, slots: Mapping[str, _Slot], order: tuple[int, int], problems: list[ModelProblem]
) -> _Sample | None:
    """Parse one sample into literal runs and slots, appending what is wrong with it to ``problems``."""
    where = f"Sample '{text}' of intent '{intent}'"

    def found(message: str) -> None:
        problems.append(ModelProblem(message, intent=intent, sample=text))

    if not text.strip():
        found(
            f"Intent '{intent}' has an empty sample ({text!r}). Remove it or write the words a user says."
        )
        return None
    elements: list[_Element] = []
    used: list[str] = []
    pos = 0
    for m in [*_PLACEHOLDER.finditer(text), None]:
        chunk = text[pos : m.start() if m else len(text)]
        if "{" in chunk or "}" in chunk:
            found(
                f"{where} has an unbalanced brace. Write each slot as {{name}}, e.g. 'order a {{size}} pizza'."
            )
            return None
        if words := _words(chunk):
            elements.append(words)
        if m is None:
            break
        pos = m.end()
        name = m.group(1).strip()
        if not _SLOT_NAME.fullmatch(name):
            found(
                f"{where} has a placeholder {m.group(0)!r} that is not a slot name. "
                "Write each slot as {name} with letters, digits or underscores."
            )
            return None
        if name not in slots:
            found(
                f"{where} uses slot '{name}', which is not declared. Declared slots: "
                f"{_quote_all(list(slots))}. Declare it in slots={{...}} or fix the sample."
            )
            return None
        if name in used:
            found(
                f"{where} uses slot '{name}' twice. Use each slot once per sample, "
                "or declare a second slot of the same type."
            )
            return None
        prev = elements[-1] if elements else None
        kinds = (prev.kind, slots[name].kind) if isinstance(prev, _Slot) else ()
        if "free" in kinds and not set(kinds) & _SPOKEN.keys():  # a number's words end it: "march twenty first"
            found(
                f"{where} puts slots '{prev.name}' and '{name}' next to each other, and free text "
                f"({prev.type if prev.kind == 'free' else slots[name].type}) makes the split "
                f"ambiguous. Put a word between them, e.g. '{{{prev.name}}} by {{{name}}}'."
            )
            return None
        used.append(name)
        elements.append(slots[name])
    if not elements:
        found(f"{where} has no words. Remove it or write the words a user says.")
        return None
    needs = [len(e) if isinstance(e, tuple) else 1 for e in elements]
    n_literals = sum(len(e) for e in elements if isinstance(e, tuple))
    return _Sample(
        intent=intent,
        text=text,
        elements=tuple(elements),
        order=order,
        n_literals=n_literals,
        literals=frozenset(w for e in elements if isinstance(e, tuple) for w in e),
        min_after=tuple(sum(needs[k + 1 :]) for k in range(len(needs))),
        min_words=sum(needs),
        # Free text needs words around it that must match: literal ones, or a number's ("{month} {day}").
        allow_free=n_literals > 0 or any(isinstance(e, _Slot) and e.kind in _SPOKEN for e in elements),
    )


def _signature(sample: _Sample) -> tuple[Any, ...]:
    """Samples with equal signatures read the same to Alexa, whatever their slots are called."""
    return tuple(e if isinstance(e, tuple) else ("{", e.type) for e in sample.elements)


def _analyse(model: InteractionModel) -> tuple[list[ModelProblem], list[_Sample]]:
    problems: list[ModelProblem] = []
    if len(model.invocation_name) < 2 or not _INVOCATION.fullmatch(model.invocation_name):
        problems.append(ModelProblem(
            f"Invocation name {model.invocation_name!r} must be lowercase words (letters, apostrophes, "
            "periods) separated by single spaces, at least 2 characters. Rename it, e.g. 'pizza shop'."
        ))
    types: dict[str, SlotType] = {}
    for t in model.types:
        if t.name in types:
            problems.append(ModelProblem(
                f"Slot type '{t.name}' is declared twice. Merge the two value lists into one SlotType."
            ))
        types.setdefault(t.name, t)
        if not t.values:
            problems.append(ModelProblem(
                f"Slot type '{t.name}' has no values. Add at least one, e.g. "
                f"skill.slot_type('{t.name}', ['first value'])."
            ))
        elif any(not _words(v.name) for v in t.values):
            problems.append(ModelProblem(
                f"Slot type '{t.name}' has a value with no words in its name. Remove it or name it."
            ))

    # Unlisted required built-ins are still answered; every built-in's default samples are
    # registered before any model sample, so a clash is always reported against the built-in.
    declared = {i.name for i in model.intents}
    entries = [*model.intents, *(IntentModel(n) for n in BUILTIN_INTENTS if n not in declared)]
    seen: set[str] = set()
    intents: list[tuple[int, IntentModel, dict[str, _Slot]]] = []
    for index, intent in enumerate(entries):
        if intent.name in seen:
            problems.append(ModelProblem(
                f"Intent '{intent.name}' is declared twice. Merge its samples and slots into one IntentModel.",
                intent=intent.name))
            continue
        seen.add(intent.name)
        if intent.name == FALLBACK_INTENT and intent.samples:
            problems.append(ModelProblem(
                f"Intent '{FALLBACK_INTENT}' takes no samples: it is what nothing else matching returns. "
                "Move the samples to a custom intent.", intent=intent.name))
            continue
        problems.extend(
            ModelProblem(p, intent=intent.name, slot=s)
            for s, ty in intent.slots.items() if (p := _check_slot_type(intent.name, s, ty, types))
        )
        intents.append((index, intent, {s: _slot(s, ty, types) for s, ty in intent.slots.items()}))

    samples: list[_Sample] = []
    owners: dict[tuple[Any, ...], _Sample] = {}
    builtins = default_samples(model.locale)
    for builtin in (True, False):
        for index, intent, slots in intents:
            defaults = builtins.get(intent.name, ())
            texts = defaults if builtin else intent.samples
            offset = 0 if builtin else len(defaults)
            for k, text in enumerate(texts):
                sample = _compile_sample(intent.name, text, slots, (index, offset + k), problems)
                if sample is None:
                    continue
                other = owners.setdefault(_signature(sample), sample)
                if other is sample:
                    samples.append(sample)
                elif other.intent == intent.name:
                    pass  # the same words twice in one intent do no harm
                elif other.text in builtins.get(other.intent, ()):
                    problems.append(ModelProblem(
                        f"Sample '{text}' of intent '{intent.name}' is the same as the built-in sample "
                        f"'{other.text}' of intent '{other.intent}'. Handle '{other.intent}' instead, "
                        "or reword the sample.", intent=intent.name, sample=text))
                else:
                    problems.append(ModelProblem(
                        f"Sample '{text}' of intent '{intent.name}' is the same as sample '{other.text}' of "
                        f"intent '{other.intent}', so the two cannot be told apart. Keep it in one intent, "
                        "or reword one of them.", intent=intent.name, sample=text))
    return problems, samples


def _raise_for(problems: Sequence[ModelProblem], model: InteractionModel) -> None:
    if len(problems) == 1:
        raise ModelError(problems[0], problems)
    if problems:
        listed = "\n".join(f"  {n}. {p}" for n, p in enumerate(problems, 1))
        raise ModelError(
            f"{len(problems)} problems in the interaction model of '{model.invocation_name}':\n{listed}", problems
        )


def validate_model(model: InteractionModel) -> None:
    """Raise ModelError naming every problem in ``model`` and how to fix it.

    >>> validate_model(InteractionModel("pizza shop", (IntentModel("Order", ("order a {size}",)),)))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    skills_sdk.errors.ModelError: Sample 'order a {size}' of intent 'Order' uses slot 'size', which is not declared. ...

    :param model: the skill's interaction model.
    :raises ModelError: one message per problem, numbered when there are several; its ``problems``
        name the intent, sample or slot each is about (:class:`ModelProblem`).
    """
    _raise_for(_analyse(model)[0], model)


def compile_model(model: InteractionModel) -> Matcher:
    """Validate ``model`` and compile it once into a :class:`Matcher`.

    >>> compile_model(model).match("ask pizza shop to order a large pizza").intent  # doctest: +SKIP
    'OrderPizzaIntent'

    :param model: the skill's interaction model.
    :raises ModelError: if the model is inconsistent (see :func:`validate_model`).
    """
    problems, samples = _analyse(model)
    _raise_for(problems, model)
    return Matcher(_words(model.invocation_name), samples)


# --- export ----------------------------------------------------------------------------------

#: Built-in intents every exported model must carry (Alexa rejects a model without them).
REQUIRED_INTENTS = (
    "AMAZON.CancelIntent",
    "AMAZON.HelpIntent",
    "AMAZON.StopIntent",
    "AMAZON.NavigateHomeIntent",
    "AMAZON.FallbackIntent",
)

def _export_samples(samples: Sequence[str]) -> list[str]:
    """Samples as written (single spaces), each once: the model rules refuse what Alexa would, never rewrite it."""
    return list(dict.fromkeys(" ".join(s.split()) for s in samples))


def export_model(model: InteractionModel, *, lenient: bool = False) -> dict[str, Any]:
    """The Alexa interaction-model JSON (as a dict) for ``model``, ready for the developer console or ASK CLI.

    >>> export_model(model)["interactionModel"]["languageModel"]["invocationName"]  # doctest: +SKIP
    'pizza shop'

    Intents with dialog rules add the ``dialog`` and ``prompts`` sections; the built-in intents
    Alexa requires are added when the skill leaves them out.

    :param model: the skill's interaction model (one locale of it).
    :param lenient: export even when Alexa's rules are broken (``skills model export --lenient``).
    :raises ModelRuleError: naming each rule ``model`` breaks (see :mod:`skills_sdk.model_rules`).
    """
    from skills_sdk import dialog
    from skills_sdk.model_rules import check_model, raise_for

    if not lenient:
        raise_for(check_model(model), f"the interaction model of {model.invocation_name!r}"
                                      + (f" ({model.locale})" if model.locale else ""))
    intents: list[dict[str, Any]] = []
    for i in model.intents:
        slots = []
        for s, t in i.slots.items():
            ds = i.dialog_slots.get(s)
            samples = list(ds.samples) if ds is not None and ds.samples else []
            if ds is not None and ds.required and not samples:
                samples = ["{" + s + "}"]  # Alexa needs at least one way to say an elicited slot
            slots.append({"name": s, "type": t, "samples": _export_samples(samples)})
        intents.append({"name": i.name, "slots": slots, "samples": _export_samples(i.samples)})
    listed = {i.name for i in model.intents}
    intents += [{"name": n, "slots": [], "samples": []} for n in REQUIRED_INTENTS if n not in listed]
    types = [
        {
            "name": t.name,
            "values": [
                {
                    **({"id": v.id} if v.id is not None else {}),
                    "name": {"value": v.name, "synonyms": list(v.synonyms)},
                }
                for v in t.values
            ],
        }
        for t in model.types
    ]
    out: dict[str, Any] = {
        "languageModel": {"invocationName": model.invocation_name, "intents": intents, "types": types}
    }
    sections = dialog.export(model)
    if sections is not None:
        out["dialog"], out["prompts"] = sections
    return {"interactionModel": out}
