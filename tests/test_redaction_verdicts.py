"""The redactor's phone verdicts agree with phonenumbers.parse + is_valid_number / is_possible_number."""

from __future__ import annotations

import random

import pytest

from skills_sdk.transcripts.redaction.verdicts import _fast_verdict, parse_verdict, verdict

# Every region an Alexa locale names, the regions a trunk-"0" number is tried in, and a few with
# unusual national prefixes (AR, BR, MX transform or carry carrier codes; IT keeps its leading 0).
REGIONS = ["US", "CA", "GB", "DE", "AU", "IN", "FR", "ES", "IT", "JP", "MX", "BR", "NL", "SA", "IE", "AT", "CH",
           "AR", "PR", "JM", "NZ", "ZA", "SG"]  # fmt: skip
PREFIXES = ["", "0", "00", "01", "1", "2", "4", "44", "49", "61", "91", "7", "9", "011", "0044", "5", "3", "8", "6"]


def _numbers(seed: int, count: int) -> list[tuple[str, str, bool]]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        prefix = rng.choice(PREFIXES)
        length = rng.randint(max(len(prefix), 7), 17)
        digits = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix)))
        out.append((digits, rng.choice(REGIONS), rng.random() < 0.3))
    return out


KNOWN = [
    ("4155550100", "US", False), ("2125550123", "US", False), ("14155550100", "US", False),
    ("02079460958", "GB", False), ("2079460958", "GB", False), ("442079460958", "GB", True),
    ("03012345678", "DE", False), ("4930123456", "DE", True), ("0412345678", "AU", False),
    ("9876543210", "IN", False), ("01144207946095", "US", False), ("0612345678", "FR", False),
    ("0612345678", "IT", False), ("5551234", "US", False), ("6135550123", "CA", False),
    ("2685551234", "US", False), ("8005550199", "US", False), ("15417543010", "US", True),
]  # fmt: skip


@pytest.mark.parametrize(("digits", "region", "plus"), KNOWN)
def test_verdict_agrees_with_parse_on_known_numbers(digits: str, region: str, plus: bool) -> None:
    assert verdict(digits, region, plus) == parse_verdict(digits, region, plus)


@pytest.mark.parametrize("seed", range(4))
def test_verdict_agrees_with_parse_on_random_digit_runs(seed: int) -> None:
    disagreements = [
        (digits, region, plus, verdict(digits, region, plus), parse_verdict(digits, region, plus))
        for digits, region, plus in _numbers(seed, 1500)
        if verdict(digits, region, plus) != parse_verdict(digits, region, plus)
    ]
    assert disagreements == []


@pytest.mark.parametrize(("region", "code"), [("US", "1"), ("CA", "1"), ("GB", "44"), ("DE", "49"), ("IN", "91")])
def test_verdict_agrees_with_parse_on_national_numbers_that_start_with_the_calling_code(region: str, code: str) -> None:
    # "1 415 555 0100" said to a US skill: parse decides whether the "1" is the calling code.
    numbers = [code + digits for digits, _, _ in _numbers(len(region) + int(code), 300)]
    assert [verdict(digits, region, False) for digits in numbers] == [
        parse_verdict(digits, region, False) for digits in numbers
    ]


def test_the_fast_path_answers_most_numbers_itself() -> None:
    # Otherwise the comparison above would only compare parse with itself.
    numbers = _numbers(99, 1000)
    answered = sum(_fast_verdict(digits, region, plus) is not None for digits, region, plus in numbers)
    assert answered >= 0.7 * len(numbers)
