"""SMS accounting: encoding choice, septet/code-unit counts and part boundaries."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opencomms.domain.segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SmsSize,
    measure,
    split,
)

# --- An independent reference -------------------------------------------------------
#
# The default alphabet as 3GPP TS 23.038 prints it: 8 rows of 16 code points, every
# non-ASCII character spelled by its Unicode name so that a look-alike (OHM SIGN for
# OMEGA, INCREMENT for DELTA) cannot slip in unnoticed. "\x1b" is ESC, not a character.
REF_ROWS = [
    "@\N{POUND SIGN}$\N{YEN SIGN}\N{LATIN SMALL LETTER E WITH GRAVE}"
    "\N{LATIN SMALL LETTER E WITH ACUTE}\N{LATIN SMALL LETTER U WITH GRAVE}"
    "\N{LATIN SMALL LETTER I WITH GRAVE}\N{LATIN SMALL LETTER O WITH GRAVE}"
    "\N{LATIN CAPITAL LETTER C WITH CEDILLA}\n\N{LATIN CAPITAL LETTER O WITH STROKE}"
    "\N{LATIN SMALL LETTER O WITH STROKE}\r\N{LATIN CAPITAL LETTER A WITH RING ABOVE}"
    "\N{LATIN SMALL LETTER A WITH RING ABOVE}",
    "\N{GREEK CAPITAL LETTER DELTA}_\N{GREEK CAPITAL LETTER PHI}"
    "\N{GREEK CAPITAL LETTER GAMMA}\N{GREEK CAPITAL LETTER LAMDA}"
    "\N{GREEK CAPITAL LETTER OMEGA}\N{GREEK CAPITAL LETTER PI}\N{GREEK CAPITAL LETTER PSI}"
    "\N{GREEK CAPITAL LETTER SIGMA}\N{GREEK CAPITAL LETTER THETA}"
    "\N{GREEK CAPITAL LETTER XI}\x1b\N{LATIN CAPITAL LETTER AE}\N{LATIN SMALL LETTER AE}"
    "\N{LATIN SMALL LETTER SHARP S}\N{LATIN CAPITAL LETTER E WITH ACUTE}",
    " !\"#\N{CURRENCY SIGN}%&'()*+,-./",
    "0123456789:;<=>?",
    "\N{INVERTED EXCLAMATION MARK}ABCDEFGHIJKLMNO",
    "PQRSTUVWXYZ\N{LATIN CAPITAL LETTER A WITH DIAERESIS}"
    "\N{LATIN CAPITAL LETTER O WITH DIAERESIS}\N{LATIN CAPITAL LETTER N WITH TILDE}"
    "\N{LATIN CAPITAL LETTER U WITH DIAERESIS}\N{SECTION SIGN}",
    "\N{INVERTED QUESTION MARK}abcdefghijklmno",
    "pqrstuvwxyz\N{LATIN SMALL LETTER A WITH DIAERESIS}"
    "\N{LATIN SMALL LETTER O WITH DIAERESIS}\N{LATIN SMALL LETTER N WITH TILDE}"
    "\N{LATIN SMALL LETTER U WITH DIAERESIS}\N{LATIN SMALL LETTER A WITH GRAVE}",
]
REF_BASIC = {char: code for code, char in enumerate("".join(REF_ROWS)) if char != "\x1b"}
REF_EXTENSION = {
    "\N{FORM FEED}": 0x0A,
    "\N{CIRCUMFLEX ACCENT}": 0x14,
    "\N{LEFT CURLY BRACKET}": 0x28,
    "\N{RIGHT CURLY BRACKET}": 0x29,
    "\N{REVERSE SOLIDUS}": 0x2F,
    "\N{LEFT SQUARE BRACKET}": 0x3C,
    "\N{TILDE}": 0x3D,
    "\N{RIGHT SQUARE BRACKET}": 0x3E,
    "\N{VERTICAL LINE}": 0x40,
    "\N{EURO SIGN}": 0x65,
}
ESC = 0x1B


def is_high(char: str) -> bool:
    return 0xD800 <= ord(char) <= 0xDBFF


def is_low(char: str) -> bool:
    return 0xDC00 <= ord(char) <= 0xDFFF


def ref_gsm_septets(text: str) -> list[int]:
    """The septets a GSM-7 text is sent as (before packing into 7 bits)."""
    septets: list[int] = []
    for char in text:
        if char in REF_EXTENSION:
            septets += [ESC, REF_EXTENSION[char]]
        else:
            septets.append(REF_BASIC[char])
    return septets


def ref_ucs2_units(text: str) -> int:
    units = 0
    for char in text:
        units += 2 if ord(char) > 0xFFFF else 1
    return units


def ref_tokens(text: str) -> tuple[str, list[tuple[str, int]]]:
    """The encoding and the unsplittable pieces of `text` with their cost in units."""
    if all(char in REF_BASIC or char in REF_EXTENSION for char in text):
        return "GSM-7", [(char, len(ref_gsm_septets(char))) for char in text]
    tokens: list[tuple[str, int]] = []
    i = 0
    while i < len(text):
        if i + 1 < len(text) and is_high(text[i]) and is_low(text[i + 1]):
            tokens.append((text[i : i + 2], 2))
            i += 2
        else:
            tokens.append((text[i], ref_ucs2_units(text[i])))
            i += 1
    return "UCS-2", tokens


def ref_split(text: str) -> tuple[SmsSize, list[str]]:
    """Slow, obviously correct: place the pieces one by one, opening a part when full."""
    encoding, tokens = ref_tokens(text)
    single, room = (160, 153) if encoding == "GSM-7" else (70, 67)
    total = sum(cost for _, cost in tokens)
    if total <= single:
        parts = [text]
    else:
        parts = [""]
        used = 0
        for piece, cost in tokens:
            if used + cost > room:
                parts.append("")
                used = 0
            parts[-1] += piece
            used += cost
    return SmsSize(encoding, len(parts), total), parts  # type: ignore[arg-type]


def part_units(encoding: str, part: str) -> int:
    if encoding == "GSM-7":
        return len(ref_gsm_septets(part))
    return len(part.encode("utf-16-le", "surrogatepass")) // 2


# --- The table ---------------------------------------------------------------------


def test_basic_table_matches_the_standard_code_by_code() -> None:
    assert all(len(row) == 16 for row in REF_ROWS)
    assert "".join(REF_ROWS).replace("\x1b", "") == GSM7_BASIC
    assert len(GSM7_BASIC) == len(set(GSM7_BASIC)) == 127


def test_extension_table_matches_the_standard() -> None:
    assert set(GSM7_EXTENSION) == set(REF_EXTENSION)
    assert len(GSM7_EXTENSION) == 10
    assert not set(GSM7_EXTENSION) & set(GSM7_BASIC)


@pytest.mark.parametrize(
    ("char", "encoding", "units"),
    [
        ("\n", "GSM-7", 1),
        ("\r", "GSM-7", 1),
        ("\f", "GSM-7", 2),
        ("@", "GSM-7", 1),
        ("$", "GSM-7", 1),
        ("¤", "GSM-7", 1),
        ("Ç", "GSM-7", 1),
        ("ç", "UCS-2", 1),  # only the capital is in the table
        ("`", "UCS-2", 1),
        ("\t", "UCS-2", 1),
        ("\N{NO-BREAK SPACE}", "UCS-2", 1),
        ("\N{GREEK CAPITAL LETTER OMEGA}", "GSM-7", 1),
        ("\N{OHM SIGN}", "UCS-2", 1),
        ("\N{INCREMENT}", "UCS-2", 1),
        ("\N{GREEK SMALL LETTER DELTA}", "UCS-2", 1),
        ("\N{LATIN SMALL LETTER E WITH CIRCUMFLEX}", "UCS-2", 1),
        ("\N{LEFT SINGLE QUOTATION MARK}", "UCS-2", 1),  # "smart" quotes
        ("€", "GSM-7", 2),
        ("\\", "GSM-7", 2),
        ("😀", "UCS-2", 2),
    ],
)
def test_single_character(char: str, encoding: str, units: int) -> None:
    assert measure(char) == SmsSize(encoding, 1, units)  # type: ignore[arg-type]


# --- Edges -------------------------------------------------------------------------

EMOJI = "😀"  # U+1F600, outside the BMP: 2 UTF-16 code units
CYR = "ж"  # not in the GSM alphabet, in the BMP: 1 code unit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", SmsSize("GSM-7", 1, 0)),
        ("a", SmsSize("GSM-7", 1, 1)),
        ("a" * 160, SmsSize("GSM-7", 1, 160)),
        ("a" * 161, SmsSize("GSM-7", 2, 161)),
        ("a" * 306, SmsSize("GSM-7", 2, 306)),
        ("a" * 307, SmsSize("GSM-7", 3, 307)),
        ("a" * 459, SmsSize("GSM-7", 3, 459)),
        ("a" * 460, SmsSize("GSM-7", 4, 460)),
        (CYR * 70, SmsSize("UCS-2", 1, 70)),
        (CYR * 71, SmsSize("UCS-2", 2, 71)),
        (CYR * 134, SmsSize("UCS-2", 2, 134)),
        (CYR * 135, SmsSize("UCS-2", 3, 135)),
        ("€" * 80, SmsSize("GSM-7", 1, 160)),
        ("€" * 81, SmsSize("GSM-7", 2, 162)),
        ("a" * 159 + "€", SmsSize("GSM-7", 2, 161)),
        (EMOJI * 35, SmsSize("UCS-2", 1, 70)),
        (EMOJI * 36, SmsSize("UCS-2", 2, 72)),
        ("a" * 159 + CYR, SmsSize("UCS-2", 3, 160)),  # one foreign char switches all
        ("Hello\r\nworld", SmsSize("GSM-7", 1, 12)),
        ("Ça va? ça va.", SmsSize("UCS-2", 1, 13)),
    ],
    ids=lambda value: repr(value)[:24] if isinstance(value, str) else None,
)
def test_measure_edges(text: str, expected: SmsSize) -> None:
    assert measure(text) == expected
    assert len(split(text)) == expected.segments
    assert "".join(split(text)) == text


def test_empty_text_is_one_empty_part() -> None:
    assert split("") == [""]


@pytest.mark.parametrize(
    ("tail", "part_lengths"),
    [
        # 152 septets + ESC € = 154: still one SMS
        (0, [153]),
        (6, [159]),
        # 161 septets: part 1 has 1 septet left, so the ESC pair moves on
        (7, [152, 8]),
        (151, [152, 152]),
        # 306 septets would fit 2 x 153, but the wasted septet makes a third part
        (152, [152, 152, 1]),
        (153, [152, 152, 2]),
    ],
)
def test_escape_pair_is_not_cut_at_153(tail: int, part_lengths: list[int]) -> None:
    text = "a" * 152 + "€" + "a" * tail
    parts = split(text)
    assert [len(part) for part in parts] == part_lengths
    assert measure(text).segments == len(part_lengths)
    if len(parts) > 1:
        assert parts[0] == "a" * 152
        assert parts[1].startswith("€")
        for part in parts:
            septets = ref_gsm_septets(part)
            assert len(septets) <= 153
            assert septets[-1] != ESC


def test_escape_pair_that_fits_exactly_stays() -> None:
    text = "a" * 151 + "€" + "a" * 152  # 305 septets: 153 + 152
    assert [len(part) for part in split(text)] == [152, 152]
    assert measure(text) == SmsSize("GSM-7", 2, 305)


@pytest.mark.parametrize(
    ("tail", "part_lengths"),
    [
        (2, [69]),  # 66 + 2 + 2 = 70 units: one SMS
        (3, [66, 4]),  # 71 units: 1 unit left in part 1, the pair moves on
        (65, [66, 66]),
        # 134 units would fit 2 x 67, but the wasted unit makes a third part
        (66, [66, 66, 1]),
    ],
)
def test_surrogate_pair_is_not_cut_at_67(tail: int, part_lengths: list[int]) -> None:
    text = CYR * 66 + EMOJI + CYR * tail
    parts = split(text)
    assert [len(part) for part in parts] == part_lengths
    assert measure(text).segments == len(part_lengths)
    if len(parts) > 1:
        assert parts[0] == CYR * 66
        assert parts[1].startswith(EMOJI)


def test_surrogate_pair_spelled_as_two_code_points_is_not_cut() -> None:
    pair = "\ud83d\ude00"  # what "surrogatepass" decoding leaves: 2 str chars, 1 pair
    text = CYR * 66 + pair + CYR * 66
    parts = split(text)
    assert [len(part) for part in parts] == [66, 67, 1]
    assert parts[1].startswith(pair)
    assert measure(text) == SmsSize("UCS-2", 3, 134)


def test_lone_surrogates_count_one_unit() -> None:
    assert measure("\udc00" * 71) == SmsSize("UCS-2", 2, 71)
    assert measure("\ud800" * 70) == SmsSize("UCS-2", 1, 70)


# --- Properties --------------------------------------------------------------------

GSM_CHARS = sorted(set(REF_BASIC) | set(REF_EXTENSION))
ODD_CHARS = [CYR, "ç", "`", EMOJI, "\U0001f1eb", "\ud83d", "\ude00", "\udc00"]

gsm_char = st.sampled_from(GSM_CHARS)
mixed_char = st.one_of(gsm_char, gsm_char, gsm_char, st.sampled_from(ODD_CHARS))
any_char = st.characters(exclude_categories=())  # surrogates included


def long_text(char: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Runs of repeated characters: reaches the 67/70/153/160 boundaries often."""
    runs = st.lists(st.tuples(st.lists(char, min_size=1, max_size=3), st.integers(1, 160)))
    return runs.map(lambda rs: "".join("".join(chars) * count for chars, count in rs))


def near_boundary(
    fill: str, wide: list[str], room: int, tail: st.SearchStrategy[str]
) -> st.SearchStrategy[str]:
    """`fill` up to around a part boundary, a 2-unit character, then `tail` or more `fill`.

    The `fill` tail brings the total to around a multiple of `room`, where the unit
    wasted by moving the 2-unit character decides whether one more part is needed.
    """
    offsets = st.sampled_from([room * k + d for k in (1, 2, 3) for d in (-2, -1, 0, 1)])

    def after(n: int) -> st.SearchStrategy[str]:
        lengths = [room * k - n - 2 + d for k in (2, 3, 4) for d in (-1, 0, 1)]
        filled = st.sampled_from([m for m in lengths if m >= 0]).map(lambda m: fill * m)
        return st.tuples(st.sampled_from(wide), st.one_of(tail, filled)).map(
            lambda pair: fill * n + pair[0] + pair[1]
        )

    return offsets.flatmap(after)


boundary_text = st.one_of(
    near_boundary("a", list(REF_EXTENSION), 153, st.text(gsm_char, max_size=320)),
    near_boundary(CYR, [EMOJI, "\ud83d\ude00"], 67, st.text(mixed_char, max_size=140)),
)
any_text = st.one_of(
    st.text(),
    st.text(any_char),
    st.text(mixed_char, max_size=400),
    long_text(mixed_char),
    long_text(any_char),
    boundary_text,
)
gsm_text = st.one_of(
    st.text(gsm_char, max_size=700),
    long_text(gsm_char),
    near_boundary("a", list(REF_EXTENSION), 153, st.text(gsm_char, max_size=320)),
)


@given(any_text)
def test_parts_rebuild_the_text_and_count_the_segments(text: str) -> None:
    size = measure(text)
    parts = split(text)
    assert "".join(parts) == text
    assert len(parts) == size.segments >= 1
    assert sum(part_units(size.encoding, part) for part in parts) == size.units


@given(any_text)
def test_parts_fit(text: str) -> None:
    size = measure(text)
    parts = split(text)
    single, room = (160, 153) if size.encoding == "GSM-7" else (70, 67)
    limit = single if len(parts) == 1 else room
    assert all(part_units(size.encoding, part) <= limit for part in parts)
    assert all(part for part in parts) or parts == [""]


@given(any_text)
def test_no_part_boundary_cuts_a_surrogate_pair(text: str) -> None:
    parts = split(text)
    for before, after in itertools.pairwise(parts):
        assert not (is_high(before[-1]) and is_low(after[0]))


@given(gsm_text)
def test_gsm_text_stays_gsm(text: str) -> None:
    size = measure(text)
    assert size.encoding == "GSM-7"
    assert size.units == len(ref_gsm_septets(text))
    for part in split(text):
        assert ref_gsm_septets(part)[-1:] != [ESC]


@given(any_text, st.one_of(mixed_char, any_char))
def test_appending_never_lowers_the_segment_count(text: str, char: str) -> None:
    assert measure(text + char).segments >= measure(text).segments


@given(st.one_of(any_text, gsm_text))
def test_agrees_with_the_reference(text: str) -> None:
    expected_size, expected_parts = ref_split(text)
    assert measure(text) == expected_size
    assert split(text) == expected_parts


@settings(max_examples=300)
@given(boundary_text)
def test_agrees_with_the_reference_around_part_boundaries(text: str) -> None:
    expected_size, expected_parts = ref_split(text)
    assert measure(text) == expected_size
    assert split(text) == expected_parts
