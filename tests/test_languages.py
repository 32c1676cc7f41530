import pytest

from xling.languages import (
    ALL_CODES,
    LANGUAGES,
    UnknownLanguageError,
    all_answer_words,
    get_language,
    native_digit_table,
    parse_langs,
)


def test_registry_holds_the_study_languages() -> None:
    assert set(ALL_CODES) == set(["en", "es", "ru", "de", "fr", "bn", "th", "zh", "sw", "te", "ja"])
    for lang in LANGUAGES.values():
        assert "\\boxed{}" in lang.instruction
        assert lang.answer_words and lang.name and lang.native_name and lang.lingua_name


def test_unknown_code_lists_known_codes() -> None:
    with pytest.raises(UnknownLanguageError, match=r"unknown language code 'xx'.*en, es"):
        get_language("xx")
    with pytest.raises(UnknownLanguageError, match="'hi'"):
        parse_langs("en,hi")


def test_parse_langs() -> None:
    assert parse_langs("all") == ALL_CODES
    assert parse_langs(" EN, bn ,en") == ("en", "bn")
    with pytest.raises(UnknownLanguageError, match="no language codes"):
        parse_langs(" , ")


def test_native_digits_map_to_ascii() -> None:
    table = native_digit_table()
    assert "০১২৩৪৫৬৭৮৯".translate(table) == "0123456789"
    assert "๙౫０".translate(table) == "950"


def test_answer_words_longest_first() -> None:
    words = all_answer_words()
    assert words.index("Final Answer") < words.index("Answer")
    assert "উত্তর" in words and "答え" in words and "Jibu" in words
