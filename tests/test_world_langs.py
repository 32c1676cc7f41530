"""The synthetic world's language tables (langs/<code>.toml) and the count rules they name."""

from __future__ import annotations

import tomllib
from importlib import resources

import pytest

from xling.languages import ALL_CODES
from xling.world import PROBLEM_TYPES, TemplateError, check_templates
from xling.world.langs import load_lang, parse_lang, shipped_langs
from xling.world.problems import N_ITEMS, N_NAMES
from xling.world.vocab import COUNT_RULES, Noun

LANGS = resources.files("xling.world.langs")


def _toml_text(code: str) -> str:
    return LANGS.joinpath(f"{code}.toml").read_text(encoding="utf-8")


def _edited_en(old: str, new: str) -> str:
    text = _toml_text("en")
    assert old in text, old
    return text.replace(old, new, 1)


# --- the shipped tables -------------------------------------------------------------------


def test_every_registry_language_ships_a_table() -> None:
    assert set(shipped_langs()) == set(ALL_CODES)


@pytest.mark.parametrize("code", sorted(ALL_CODES))
def test_every_shipped_language_loads_whole(code: str) -> None:
    data = load_lang(code)
    assert data.code == code
    assert len(data.names) == N_NAMES and len(data.items) == N_ITEMS
    assert [n.gender for n in data.names] == ["m", "f"] * (N_NAMES // 2)
    assert list(data.templates) == list(PROBLEM_TYPES)
    assert data.count is COUNT_RULES[tomllib.loads(_toml_text(code))["count"]].count
    check_templates(code)


def test_every_count_rule_is_used_by_a_shipped_language() -> None:
    used = {tomllib.loads(_toml_text(code))["count"] for code in shipped_langs()}
    assert used == set(COUNT_RULES)


def test_no_two_count_rules_behave_alike() -> None:
    noun = Noun("x", pl="xs", few="xf", many="xm", cl="C")
    phrases = {
        name: tuple(rule.count(n, str(n), noun) for n in range(30))
        for name, rule in COUNT_RULES.items()
    }
    assert len(set(phrases.values())) == len(phrases)


# --- count rules, with the nouns of the languages that use them ---------------------------

NUMBERS = (1, 2, 5, 11, 21, 22)


@pytest.mark.parametrize(
    ("code", "noun", "expected"),
    [
        ("en", "item0", ["1 apple", "2 apples", "5 apples", "11 apples", "21 apples", "22 apples"]),
        ("de", "item0", ["1 Apfel", "2 Äpfel", "5 Äpfel", "11 Äpfel", "21 Äpfel", "22 Äpfel"]),
        ("es", "cur", ["1 euro", "2 euros", "5 euros", "11 euros", "21 euros", "22 euros"]),
        ("fr", "year", ["1 an", "2 ans", "5 ans", "11 ans", "21 ans", "22 ans"]),
        (
            "te",
            "item0",
            [
                "1 ఆపిల్ పండు",
                "2 ఆపిల్ పండ్లు",
                "5 ఆపిల్ పండ్లు",
                "11 ఆపిల్ పండ్లు",
                "21 ఆపిల్ పండ్లు",
                "22 ఆపిల్ పండ్లు",
            ],
        ),
        (
            "sw",
            "item3",
            [
                "chungwa 1",
                "machungwa 2",
                "machungwa 5",
                "machungwa 11",
                "machungwa 21",
                "machungwa 22",
            ],
        ),
        ("ru", "item0", ["1 яблоко", "2 яблока", "5 яблок", "11 яблок", "21 яблоко", "22 яблока"]),
        (
            "ru",
            "week",
            ["1 неделя", "2 недели", "5 недель", "11 недель", "21 неделя", "22 недели"],
        ),
        (
            "bn",
            "item0",
            ["1টি আপেল", "2টি আপেল", "5টি আপেল", "11টি আপেল", "21টি আপেল", "22টি আপেল"],
        ),
        ("zh", "item1", ["1支铅笔", "2支铅笔", "5支铅笔", "11支铅笔", "21支铅笔", "22支铅笔"]),
        ("ja", "item2", ["1冊", "2冊", "5冊", "11冊", "21冊", "22冊"]),
        (
            "th",
            "item1",
            ["ดินสอ 1 แท่ง", "ดินสอ 2 แท่ง", "ดินสอ 5 แท่ง", "ดินสอ 11 แท่ง", "ดินสอ 21 แท่ง", "ดินสอ 22 แท่ง"],
        ),
    ],
)
def test_count_rules_write_each_languages_phrases(
    code: str, noun: str, expected: list[str]
) -> None:
    data = load_lang(code)
    counted = data.items[int(noun[4:])] if noun.startswith("item") else data.nouns[noun]
    assert [data.count(n, str(n), counted) for n in NUMBERS] == expected


def test_slavic_rule_takes_few_and_many_past_the_teens() -> None:
    data = load_lang("ru")
    apple = data.items[0]
    numbers = (3, 4, 12, 14, 24, 25, 101, 111, 112, 122)
    assert [data.count(n, str(n), apple) for n in numbers] == [
        "3 яблока",
        "4 яблока",
        "12 яблок",
        "14 яблок",
        "24 яблока",
        "25 яблок",
        "101 яблоко",
        "111 яблок",
        "112 яблок",
        "122 яблока",
    ]


def test_count_rules_write_the_digits_they_are_given() -> None:
    # The rule decides by the value and writes `digits` as rendered (here Bengali digits).
    data = load_lang("bn")
    assert data.count(21, "২১", data.items[0]) == "২১টি আপেল"


# --- errors -------------------------------------------------------------------------------


def _load_error(text: str, *, code: str | None = None) -> str:
    with pytest.raises(TemplateError) as raised:
        parse_lang(text, source="langs/en.toml", code=code)
    return str(raised.value)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "[templates.buy_change]",
            "[templtes.buy_change]",
            "unknown key 'templtes' (did you mean 'templates'?)",
        ),
        (
            "native_digits = false",
            "native_digit = false",
            "unknown key 'native_digit' (did you mean 'native_digits'?)",
        ),
        (
            "[templates.buy_change]",
            "[templates.buy_chnage]",
            "templates: unknown key 'buy_chnage' (did you mean 'buy_change'?)",
        ),
        ("\nq = ", "\nqq = ", "templates.buy_change: unknown key 'qq' (did you mean 'q'?)"),
        (
            '{ sg = "apple", pl = "apples" }',
            '{ sg = "apple", pll = "apples" }',
            "items[0]: unknown key 'pll' (did you mean 'pl'?)",
        ),
    ],
)
def test_a_misspelled_key_names_the_file_and_the_closest_key(
    old: str, new: str, message: str
) -> None:
    assert _load_error(_edited_en(old, new)) == f"langs/en.toml: {message}"


@pytest.mark.parametrize(
    ("rule", "closest"),
    [("slavik", "slavic"), ("sg_pl", "sg-pl"), ("clasifier-noun", "classifier-noun")],
)
def test_an_unknown_count_rule_names_the_closest_rule(rule: str, closest: str) -> None:
    text = _edited_en('count = "sg-pl"', f'count = "{rule}"')
    assert _load_error(text) == (
        f"langs/en.toml: count: unknown count rule {rule!r} (did you mean {closest!r}?)"
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        # One noun short of a form fails at load time, not on the problems that draw it.
        (
            '{ sg = "orange", pl = "oranges" }',
            '{ sg = "orange" }',
            "items[3]: lacks key 'pl', which items[0] has",
        ),
        # A count rule reading forms the language's nouns do not have.
        (
            'count = "sg-pl"',
            'count = "slavic"',
            "items[0]: lacks form 'few', which the count rule reads",
        ),
        (
            '{ sg = "Emma", g = "f" }',
            '{ sg = "Emma", g = "m" }',
            "names[1]: g must be 'f': names alternate masculine, feminine",
        ),
        (
            '{ sg = "Emma", g = "f" }',
            '{ sg = "Emma", g = "x" }',
            "names[1].g: must be one of m, f, n, got 'x'",
        ),
        (
            'answer = "The answer is {boxed}"',
            'answer = "{boxed} is the answer"',
            "answer: the answer line must end with {boxed}",
        ),
        (
            "native_digits = false",
            "native_digits = 0",
            "native_digits: expected a boolean, got int 0",
        ),
        ('code = "en"', 'code = "es"', "code: declares code 'es', expected 'en'"),
        ('answer = "The answer is {boxed}"\n', "", "missing key 'answer'"),
    ],
)
def test_a_malformed_table_is_one_clear_error(old: str, new: str, message: str) -> None:
    assert _load_error(_edited_en(old, new), code="en") == f"langs/en.toml: {message}"


def test_invalid_toml_names_the_file() -> None:
    assert _load_error("code = ").startswith("langs/en.toml: not valid TOML: ")


def test_a_language_without_a_table_is_a_clear_error() -> None:
    with pytest.raises(TemplateError, match=r"no synthetic-benchmark templates.*'hi'.*hi\.toml"):
        load_lang("hi")
