from fractions import Fraction

import pytest

from xling.equivalence import answers_equal, is_safe_latex
from xling.extract import extract_answer, find_boxed, normalize_answer, parse_number

# (language, model output, expected canonical answer, expected source)
CASES = [
    ("en", "So she earns 9 * 2 = 18 dollars.\nFinal Answer: $18", "18", "final_word"),
    ("en", "Total is 5,600 apples. The answer is \\boxed{5,600}.", "5600", "boxed"),
    ("en", "The answer is **$1,234.50**.", "1234.5", "answer_word"),
    ("en", "We get \\boxed{\\frac{3}{4}} of the cake.", "0.75", "boxed"),
    (
        "es",
        "Entonces gana 18 dólares al día.\n\n**Respuesta final:** 18 dólares",
        "18",
        "final_word",
    ),
    ("es", "El total es \\boxed{5.600} euros.", "5600", "boxed"),
    ("ru", "Итого 3 + 4 = 7 яблок.\nОтвет: 7 яблок.", "7", "answer_word"),
    ("ru", "Получаем 12,5 литров.\n**Ответ:** 12,5", "12.5", "answer_word"),
    ("de", "Sie verdient 5 600 Euro.\nEndgültige Antwort: 5 600 €", "5600", "final_word"),
    ("de", "Also bleiben \\boxed{26} Stücke übrig.", "26", "boxed"),
    ("fr", "Elle a donc 42 billes.\nRéponse : 42", "42", "answer_word"),
    ("fr", "La réponse finale est \\boxed{\\text{42 billes}}", "42", "boxed"),
    ("bn", "তাই মোট ৪৬০ ডলার।\n**উত্তর:** ৪৬০ ডলার", "460", "answer_word"),
    ("bn", "এলিজার উপার্জন \\boxed{460} ডলার।", "460", "boxed"),
    ("th", "ดังนั้นเธอมีแอปเปิ้ล ๑๒ ผล\nคำตอบ: ๑๒ ผล", "12", "answer_word"),
    ("th", "คำตอบสุดท้าย คือ 250 บาท", "250", "final_word"),
    ("zh", "所以她每天赚 18 美元。\n答案：１８美元", "18", "answer_word"),
    ("zh", "最终答案是 \\boxed{３６}", "36", "boxed"),
    ("sw", "Kwa hiyo anapata shilingi 1,500.\nJibu: 1,500", "1500", "answer_word"),
    ("sw", "Jibu la mwisho ni **24**", "24", "final_word"),
    ("te", "కాబట్టి మొత్తం దూరం 540 మీటర్లు.\nసమాధానం: ౫౪౦ మీటర్లు", "540", "answer_word"),
    ("te", "తుది సమాధానం: \\boxed{540}", "540", "boxed"),
    ("ja", "よって答えは18ドルです。\n答え：１８ドル", "18", "answer_word"),
    ("ja", "最終的な答えは \\boxed{7} 個です。", "7", "boxed"),
]


@pytest.mark.parametrize(("lang", "text", "expected", "source"), CASES)
def test_extracts_intended_answer(lang: str, text: str, expected: str, source: str) -> None:
    got = extract_answer(text, lang)
    assert got.answer == expected, (lang, got)
    assert got.source == source, (lang, got)


def test_every_registry_language_has_a_case() -> None:
    from xling.languages import ALL_CODES

    assert {c[0] for c in CASES} == set(ALL_CODES)


def test_last_box_wins_and_nested_braces() -> None:
    text = "first \\boxed{3} then \\boxed{\\frac{1}{\\sqrt{4}}}"
    assert find_boxed(text) == ["3", "\\frac{1}{\\sqrt{4}}"]
    assert extract_answer(text).answer == "\\frac{1}{\\sqrt{4}}"


def test_unbalanced_box_falls_back_to_earlier_box() -> None:
    assert extract_answer("\\boxed{12} and later \\boxed{13").answer == "12"


def test_answer_section_overrides_the_thinking() -> None:
    text = "<think>maybe \\boxed{14}</think>**Final Answer:** 16"
    assert extract_answer(text).answer == "16"
    s1_style = "Final Answer: \\boxed{14.3}\n<|im_start|>answer\nFinal Answer: **16** dollars."
    assert extract_answer(s1_style).answer == "16"


def test_final_answer_without_number_is_no_answer() -> None:
    text = "Respuesta: 240 asiáticos.\n**Final Answer: No hay suficientes datos.**"
    assert extract_answer(text, "es").answer is None


def test_stated_answer_is_the_first_clause() -> None:
    assert extract_answer("Final Answer: 35. Mais 35 - 5 = 30.", "fr").answer == "35"


def test_last_number_fallback_and_nothing() -> None:
    assert extract_answer("16 - 3 - 4 = 9 eggs, so 9 * 2 = 18").answer == "18"
    empty = extract_answer("I don't know.")
    assert empty.answer is None and empty.source is None


def test_think_markers_do_not_hide_answer() -> None:
    text = "<think>try 5</think>\nSo the total is 7.\n**Answer:** 7"
    assert extract_answer(text).answer == "7"


@pytest.mark.parametrize(
    ("token", "lang", "value"),
    [
        ("5.600", "de", Fraction(5600)),
        ("5.600", "en", Fraction(28, 5)),
        ("5.600", None, Fraction(28, 5)),
        ("222.857", "te", Fraction(222857, 1000)),
        ("5,600", "fr", Fraction(5600)),
    ],
)
def test_lone_separator_before_three_digits_follows_the_language(
    token: str, lang: str | None, value: Fraction
) -> None:
    assert parse_number(token, lang) == value


@pytest.mark.parametrize(
    ("token", "value"),
    [
        ("5,600", Fraction(5600)),
        ("5 600", Fraction(5600)),
        ("1.234.567", Fraction(1234567)),
        ("1,234.5", Fraction(2469, 2)),
        ("1.234,5", Fraction(2469, 2)),
        ("12.5", Fraction(25, 2)),
        ("12,5", Fraction(25, 2)),
        ("-3/4", Fraction(-3, 4)),
        ("０.５", Fraction(1, 2)),
        ("৫৬০০", Fraction(5600)),
        ("๑๒", Fraction(12)),
        ("౫౪౦", Fraction(540)),
    ],
)
def test_parse_number(token: str, value: Fraction) -> None:
    assert parse_number(token) == value


def test_parse_number_rejects_garbage() -> None:
    assert parse_number("abc") is None
    assert parse_number("1/0") is None


@pytest.mark.parametrize(
    ("content", "canonical"),
    [
        ("18 \\text{ dollars}", "18"),
        ("\\$18", "18"),
        ("25\\%", "25"),
        ("x = 5", "5"),
        ("90^\\circ", "90"),
        ("\\dfrac{10}{4}", "2.5"),
        ("24.00", "24"),
        ("2\\sqrt{3}", "2\\sqrt{3}"),
        ("\\frac{1}{3}", "1/3"),
    ],
)
def test_normalize_answer(content: str, canonical: str) -> None:
    assert normalize_answer(content) == canonical


@pytest.mark.parametrize(
    ("pred", "gold", "equal"),
    [
        ("5600", "5600", True),
        ("0.5", "1/2", True),
        ("0.333333333", "1/3", True),
        ("0.33", "1/3", False),
        ("18", "17", False),
        ("2\\sqrt{3}", "\\sqrt{12}", True),
        (None, "3", False),
        ("x+1", "1+x", True),
    ],
)
def test_answers_equal(pred: str | None, gold: str, equal: bool) -> None:
    assert answers_equal(pred, gold) is equal


def test_python_never_reaches_math_verify() -> None:
    assert not is_safe_latex("__import__('os').system('true')")
    assert not is_safe_latex("lambda: 1")
    assert is_safe_latex("\\frac{a}{b}+\\sqrt{2}")
