"""libphonenumber's verdict on a run of digits (valid, possible, neither), without its general-purpose parser.

``phonenumbers.parse`` followed by ``is_valid_number`` costs about 150 microseconds: most of it
goes to normalising arbitrary input (letters, punctuation, Unicode digits, extensions) and to
matching a number against each of a region's ten number types one cached-regex lookup at a time.
The redactor only ever asks about plain ASCII digits, so :func:`verdict` takes libphonenumber's
own steps for such input (country code, national prefix, possible lengths, the region's patterns)
with its metadata and its helpers, and the type patterns compiled once per region; numbers that
start with the region's international or country calling code go through ``parse``.
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

        verdict("4155550100", "US", False)  # 1: a fictional 555 number has a possible length
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


def _fast_verdict(digits: str, region: str, plus: bool) -> int | None:
    from phonenumbers import phonenumberutil as util
    from phonenumbers.phonemetadata import PhoneMetadata

    if plus:
        country_code, national = util._extract_country_code(digits)
        if country_code == 0 or len(digits) <= 2:
            return 0  # parse: "country calling code not recognised", "too short after IDD"
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(
            country_code, util.region_code_for_country_code(country_code)
        )
    else:
        metadata = PhoneMetadata.metadata_for_region(region, None)
        if metadata is None or digits.startswith(str(metadata.country_code)):
            return None  # an unknown region, or a number that may begin with its calling code
        idd = metadata.international_prefix
        if idd and re.match(idd, digits):
            return None  # dialled from abroad ("011 44 ...")
        country_code, national = metadata.country_code, digits
    if metadata is None:
        return None
    if len(national) < 2:
        return 0
    _, stripped, _ = util._maybe_strip_national_prefix_carrier_code(national, metadata)
    if util._test_number_length(stripped, metadata) not in (
        util.ValidationResult.TOO_SHORT,
        util.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
        util.ValidationResult.INVALID_LENGTH,
    ):
        national = stripped
    if not 2 <= len(national) <= 17:
        return 0
    # is_valid_number: the region among those sharing the calling code (+1: US, CA, the Caribbean)
    # whose leading digits match or whose patterns accept the number, then that region's patterns.
    regions = util.COUNTRY_CODE_TO_REGION_CODE.get(country_code)
    if not regions:
        return 0
    owner = regions[0] if len(regions) == 1 else _owner(national, country_code, regions)
    if owner is not None and _has_type(national, _patterns(country_code, owner)):
        return 2
    # is_possible_number: a possible length for the calling code's main region.
    main = PhoneMetadata.metadata_for_region_or_calling_code(
        country_code, util.region_code_for_country_code(country_code)
    )
    return 1 if util._test_number_length(national, main) in (
        util.ValidationResult.IS_POSSIBLE,
        util.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    ) else 0  # fmt: skip


def _owner(national: str, country_code: int, regions: list[str]) -> str | None:
    for region in regions:
        patterns = _patterns(country_code, region)
        if patterns is None:
            continue
        leading, _, _ = patterns
        if leading is not None:
            if leading.match(national):
                return region
        elif _has_type(national, patterns):
            return region
    return None


Patterns = tuple[Any, tuple[frozenset[int], Any], list[tuple[frozenset[int], Any]]]


@lru_cache(maxsize=512)
def _patterns(country_code: int, region: str) -> Patterns | None:
    """A region's leading-digits pattern, general pattern and number-type patterns, compiled once."""
    from phonenumbers.phonemetadata import PhoneMetadata

    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region.upper())
    if metadata is None:
        return None

    def compiled(desc: Any) -> tuple[frozenset[int], Any] | None:
        if desc is None or not desc.national_number_pattern:
            return None
        return frozenset(desc.possible_length or ()), re.compile(desc.national_number_pattern)

    general = compiled(metadata.general_desc)
    kinds = [kind for kind in _TYPES if not (kind == "mobile" and metadata.same_mobile_and_fixed_line_pattern)]
    types = [desc for desc in (compiled(getattr(metadata, kind)) for kind in kinds) if desc is not None]
    leading = re.compile(metadata.leading_digits) if metadata.leading_digits is not None else None
    return leading, general or (frozenset(), None), types


def _has_type(national: str, patterns: Patterns | None) -> bool:
    """Whether libphonenumber gives ``national`` a number type other than UNKNOWN."""
    if patterns is None:
        return False
    _, (lengths, general), types = patterns
    if general is None or (lengths and len(national) not in lengths) or not general.fullmatch(national):
        return False
    size = len(national)
    return any((not sizes or size in sizes) and pattern.fullmatch(national) for sizes, pattern in types)
