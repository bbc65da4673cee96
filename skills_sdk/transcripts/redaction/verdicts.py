"""libphonenumber's verdict on a run of digits (valid, possible, neither), without its general-purpose parser.

``phonenumbers.parse`` followed by ``is_valid_number`` costs about 150 microseconds: most of it
goes to normalising arbitrary input (letters, punctuation, Unicode digits, extensions) and to
matching a number against each of a region's ten number types one cached-regex lookup at a time.
The redactor only ever asks about plain ASCII digits, so :func:`verdict` takes parse's and
is_valid_number's steps for such input itself, from libphonenumber's metadata: the calling code,
the national prefix, the possible lengths, the owner of a shared calling code, the region's type
patterns (compiled once, one alternation per number length). Numbers dialled with the region's
international prefix, and regions whose national prefix is rewritten by a transform rule
(Argentina, Mexico, ...), go through ``parse``.
``tests/test_redaction_verdicts.py`` checks that both agree on thousands of numbers.

``phonenumbers`` is imported on the first digit run that could be a phone number, not by every
process that answers turns (20-80 ms of a cold start).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

__all__ = ["parse_verdict", "verdict"]

_TYPES = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail",
          "fixed_line", "mobile")  # fmt: skip


@lru_cache(maxsize=4096)
def verdict(digits: str, region: str, plus: bool) -> int:
    """2 for a valid number, 1 for one of a possible length only, 0 for neither.

    Example::

        verdict("4155550100", "US", False)  # 2: (415) 555-0100
        verdict("1234567890", "US", False)  # 1: no area code 123, but a possible length
        verdict("442079460958", "GB", True)  # 2: +44 20 7946 0958

    :param digits: ASCII digits, without the "+".
    :param region: the region whose national numbers are meant (``"US"``); ignored when ``plus``.
    :param plus: whether the digits follow a "+" (they start with a country calling code).
    """
    fast = _fast_verdict(digits, region, plus)
    return parse_verdict(digits, region, plus) if fast is None else fast


def parse_verdict(digits: str, region: str, plus: bool) -> int:
    """:func:`verdict` through ``phonenumbers.parse`` and ``is_valid_number``: the reference."""
    import phonenumbers

    try:
        number = phonenumbers.parse(("+" if plus else "") + digits, None if plus else region)
    except phonenumbers.NumberParseException:
        return 0
    if phonenumbers.is_valid_number(number):
        return 2
    return 1 if phonenumbers.is_possible_number(number) else 0


class _Phonenumbers:
    """libphonenumber's metadata and calling-code tables, imported on first use."""

    def __init__(self) -> None:
        from phonenumbers import phonenumberutil
        from phonenumbers.phonemetadata import PhoneMetadata

        self.util = phonenumberutil
        self.metadata = PhoneMetadata


_LIB: _Phonenumbers | None = None


def _lib() -> _Phonenumbers:
    global _LIB
    if _LIB is None:
        _LIB = _Phonenumbers()
    return _LIB


@lru_cache(maxsize=1024)
def _types_of_length(rules: _Rules, size: int) -> re.Pattern[str]:
    # One alternation of every type pattern that allows numbers of this length: one fullmatch in C
    # instead of up to ten from Python. fullmatch backtracks into the next alternative, so it
    # matches exactly when one of them matches the whole number.
    patterns = [pattern for lengths, pattern in rules.types if not lengths or size in lengths]
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns) or "(?!)")


@lru_cache(maxsize=512)
def _region(country_code: int, region: str) -> _Rules | None:
    metadata = _lib().metadata.metadata_for_region_or_calling_code(country_code, region)
    return None if metadata is None else _rules(metadata)


@lru_cache(maxsize=256)
def _owners(country_code: int) -> list[tuple[re.Pattern[str] | None, str]]:
    """How is_valid_number picks the region of a calling code shared by several (+1, +44, +61, ...).

    In list order, the first region whose leading digits match the number, or (for one without
    leading digits) whose patterns accept it. Runs of regions with leading digits become one
    pattern with a group per region, so +1 takes four steps instead of twenty-five.
    """
    steps: list[tuple[re.Pattern[str] | None, str]] = []
    run: list[tuple[str, str]] = []
    regions = _lib().util.COUNTRY_CODE_TO_REGION_CODE.get(country_code, ())

    def close_run() -> None:
        if run:
            steps.append((re.compile("|".join(f"(?P<{name}>{leading})" for name, leading in run)), ""))
            run.clear()

    for name in regions:
        region = _region(country_code, name)
        if region is None:
            continue
        if region.leading is not None:
            run.append((name, region.leading))
        else:
            close_run()
            steps.append((None, name))
    close_run()
    return steps


def _owner(national: str, country_code: int) -> tuple[str | None, bool]:
    """The region of the calling code that owns ``national``, and whether its patterns were
    already found to accept it (so :func:`_fast_verdict` need not ask again)."""
    for leading, name in _owners(country_code):
        if leading is None:
            region = _region(country_code, name)
            if region is not None and region.has_type(national):
                return name, True
        else:
            match = leading.match(national)
            if match:
                return match.lastgroup, False
    return None, False


class _Rules:
    """One region's metadata with its patterns compiled once: what parse, is_valid_number and
    is_possible_number ask of it."""

    __slots__ = ("general", "leading", "lengths", "local", "metadata", "prefix", "types")

    def __init__(self, metadata: Any) -> None:
        self.metadata = metadata
        general = metadata.general_desc
        self.general = re.compile(general.national_number_pattern) if general.national_number_pattern else None
        self.lengths = tuple(general.possible_length)
        self.local = frozenset(general.possible_length_local_only)
        self.leading = metadata.leading_digits
        prefix = metadata.national_prefix_for_parsing
        # A transform rule ("0(\d{2})" -> "\1...", Argentina, Mexico) is left to libphonenumber.
        simple = prefix and not metadata.national_prefix_transform_rule
        self.prefix = re.compile(prefix) if simple else None
        kinds = [kind for kind in _TYPES if not (kind == "mobile" and metadata.same_mobile_and_fixed_line_pattern)]
        descs = [getattr(metadata, kind) for kind in kinds]
        self.types = [
            (frozenset(desc.possible_length or ()), desc.national_number_pattern)
            for desc in descs
            if desc is not None and desc.national_number_pattern
        ]

    def has_type(self, national: str) -> bool:
        """Whether libphonenumber gives ``national`` a number type other than UNKNOWN here."""
        size = len(national)
        if self.general is None or (self.lengths and size not in self.lengths):
            return False
        return self.general.fullmatch(national) is not None and _types_of_length(self, size).fullmatch(national) is not None

    def length(self, national: str) -> str:
        """libphonenumber's _test_number_length for an unknown type: "possible", "local", "short", "long" or "invalid"."""
        size, lengths = len(national), self.lengths
        if size in self.local:
            return "local"
        if lengths[0] == size:
            return "possible"
        if lengths[0] > size:
            return "short"
        if lengths[-1] < size:
            return "long"
        return "possible" if size in lengths[1:] else "invalid"

    def strip_prefix(self, national: str) -> str | None:
        """The number without its national prefix as parse strips it, or None to ask libphonenumber."""
        if self.prefix is None:
            return national if not self.metadata.national_prefix_for_parsing else None
        match = self.prefix.match(national)
        if match is None:
            return national
        if self.general is None:
            return None
        rest = national[match.end() :]
        if self.general.fullmatch(national) and not self.general.fullmatch(rest):
            return national
        return rest


_RULES: dict[int, _Rules] = {}


def _rules(metadata: Any) -> _Rules:
    # By identity: libphonenumber's metadata objects are not hashable, and live as long as it does.
    rules = _RULES.get(id(metadata))
    if rules is None or rules.metadata is not metadata:
        rules = _RULES[id(metadata)] = _Rules(metadata)
    return rules


@lru_cache(maxsize=256)
def _home(region: str) -> tuple[Any, str, re.Pattern[str] | None] | None:
    """A region's metadata, its calling code as digits and its international prefix, compiled."""
    metadata = _lib().metadata.metadata_for_region(region, None)
    if metadata is None:
        return None
    idd = metadata.international_prefix
    return metadata, str(metadata.country_code), re.compile(idd) if idd else None


def _fast_verdict(digits: str, region: str, plus: bool) -> int | None:
    lib = _lib()
    util = lib.util
    if plus:
        if len(digits) <= 2:
            return 0  # parse: "too short after IDD"
        country_code = _calling_code(digits)
        if country_code == 0:
            return 0  # parse: "country calling code not recognised"
        national = digits[len(str(country_code)) :]
        metadata = lib.metadata.metadata_for_region_or_calling_code(
            country_code, util.region_code_for_country_code(country_code)
        )
        if metadata is None:
            return None
    else:
        home = _home(region)
        if home is None:
            return None
        metadata, calling_code, idd = home
        if idd is not None and idd.match(digits):
            return None  # dialled from abroad ("011 44 ...")
        country_code, national = metadata.country_code, digits
        if digits.startswith(calling_code):
            # "1 415 555 0100" in the US: parse takes the calling code off when the number did
            # not fit the region's pattern before and does after, or was too long with it.
            rules = _rules(metadata)
            rest = rules.strip_prefix(digits[len(calling_code) :])
            if rest is None or rules.general is None:
                return None
            if (not rules.general.fullmatch(digits) and rules.general.fullmatch(rest)) or rules.length(digits) == "long":
                national = rest
                main = util.region_code_for_country_code(country_code)
                if main != region:
                    metadata = lib.metadata.metadata_for_region_or_calling_code(country_code, main)
                    if metadata is None:
                        return None
    if len(national) < 2:
        return 0
    rules = _rules(metadata)
    stripped = rules.strip_prefix(national)
    if stripped is None:
        return None
    if stripped != national and rules.length(stripped) in ("possible", "long"):
        national = stripped
    if not 2 <= len(national) <= 17:
        return 0
    # is_valid_number: the region among those sharing the calling code whose leading digits match
    # or whose patterns accept the number, then that region's patterns.
    regions = util.COUNTRY_CODE_TO_REGION_CODE.get(country_code)
    if not regions:
        return 0
    owner, accepted = (regions[0], False) if len(regions) == 1 else _owner(national, country_code)
    if accepted:
        return 2
    if owner is not None:
        owner_region = _region(country_code, owner)
        if owner_region is not None and owner_region.has_type(national):
            return 2
    # is_possible_number: a possible length for the calling code's main region.
    main = lib.metadata.metadata_for_region_or_calling_code(country_code, util.region_code_for_country_code(country_code))
    return 1 if _rules(main).length(national) in ("possible", "local") else 0


@lru_cache(maxsize=1)
def _calling_codes() -> frozenset[str]:
    return frozenset(str(code) for code in _lib().util.COUNTRY_CODE_TO_REGION_CODE)


def _calling_code(digits: str) -> int:
    """libphonenumber's _extract_country_code: the calling code that starts ``digits``, or 0."""
    if digits[0] == "0":
        return 0
    codes = _calling_codes()
    for size in (1, 2, 3):
        if digits[:size] in codes:
            return int(digits[:size])
    return 0
