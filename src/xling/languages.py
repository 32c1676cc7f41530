"""The language registry: everything xling knows about a language lives in one entry here.

Adding a language means adding one `Language(...)` to `_ENTRIES`; no other module
branches on language codes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from xling.errors import XlingError

ASCII_DIGITS = "0123456789"


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1
    name: str  # English name, used in prompts and reports
    native_name: str
    script: str  # ISO 15924
    digits: str  # the ten native digits 0..9; ASCII for languages that use Western digits
    instruction: str  # "think step by step in <language> and put the final answer in \boxed{}"
    answer_words: tuple[str, ...]  # how a model announces its final answer in this language
    lingua_name: str  # the `lingua.Language` member that identifies this language
    decimal_comma: bool = False  # "3,5" is three and a half; "5.600" is five thousand six hundred
    resource: str = "high"  # "high" | "mid" | "low", as usually grouped in the literature

    def __post_init__(self) -> None:
        if len(self.digits) != 10:
            raise ValueError(f"{self.code}: digits must list exactly ten characters")
        if r"\boxed{}" not in self.instruction:
            raise ValueError(rf"{self.code}: instruction must mention \boxed{{}}")


_ENTRIES: tuple[Language, ...] = (
    Language(
        code="en",
        name="English",
        native_name="English",
        script="Latn",
        digits=ASCII_DIGITS,
        instruction=r"Think step by step in English and put your final answer within \boxed{}.",
        answer_words=("Final Answer", "The answer is", "Answer"),
        lingua_name="ENGLISH",
    ),
    Language(
        code="es",
        name="Spanish",
        native_name="Español",
        script="Latn",
        digits=ASCII_DIGITS,
        instruction=(
            r"Piensa paso a paso en español y escribe tu respuesta final dentro de \boxed{}."
        ),
        answer_words=("Respuesta final", "La respuesta es", "Respuesta"),
        lingua_name="SPANISH",
        decimal_comma=True,
    ),
    Language(
        code="ru",
        name="Russian",
        native_name="Русский",
        script="Cyrl",
        digits=ASCII_DIGITS,
        instruction=(
            r"Рассуждай шаг за шагом на русском языке и запиши окончательный ответ в \boxed{}."
        ),
        answer_words=("Окончательный ответ", "Итоговый ответ", "Ответ"),
        lingua_name="RUSSIAN",
        decimal_comma=True,
    ),
    Language(
        code="de",
        name="German",
        native_name="Deutsch",
        script="Latn",
        digits=ASCII_DIGITS,
        instruction=(
            r"Denke Schritt für Schritt auf Deutsch nach und gib deine endgültige Antwort "
            r"in \boxed{} an."
        ),
        answer_words=("Endgültige Antwort", "Die Antwort ist", "Antwort"),
        lingua_name="GERMAN",
        decimal_comma=True,
    ),
    Language(
        code="fr",
        name="French",
        native_name="Français",
        script="Latn",
        digits=ASCII_DIGITS,
        instruction=(
            r"Réfléchis étape par étape en français et mets ta réponse finale dans \boxed{}."
        ),
        answer_words=("Réponse finale", "La réponse est", "Réponse"),
        lingua_name="FRENCH",
        decimal_comma=True,
    ),
    Language(
        code="bn",
        name="Bengali",
        native_name="বাংলা",
        script="Beng",
        digits="০১২৩৪৫৬৭৮৯",
        instruction=(r"বাংলায় ধাপে ধাপে চিন্তা করো এবং তোমার চূড়ান্ত উত্তর \boxed{} এর মধ্যে লেখো।"),
        answer_words=("চূড়ান্ত উত্তর", "উত্তর"),
        lingua_name="BENGALI",
        resource="low",
    ),
    Language(
        code="th",
        name="Thai",
        native_name="ไทย",
        script="Thai",
        digits="๐๑๒๓๔๕๖๗๘๙",
        instruction=r"คิดทีละขั้นตอนเป็นภาษาไทย และใส่คำตอบสุดท้ายไว้ใน \boxed{}",
        answer_words=("คำตอบสุดท้าย", "คำตอบคือ", "คำตอบ"),
        lingua_name="THAI",
        resource="mid",
    ),
    Language(
        code="zh",
        name="Chinese",
        native_name="中文",
        script="Hans",
        digits="０１２３４５６７８９",
        instruction=r"请用中文逐步思考，并将最终答案写在 \boxed{} 中。",
        answer_words=("最终答案", "答案是", "答案", "答"),
        lingua_name="CHINESE",
    ),
    Language(
        code="sw",
        name="Swahili",
        native_name="Kiswahili",
        script="Latn",
        digits=ASCII_DIGITS,
        instruction=(
            r"Fikiri hatua kwa hatua kwa Kiswahili na uweke jibu lako la mwisho ndani ya \boxed{}."
        ),
        answer_words=("Jibu la mwisho", "Jibu ni", "Jibu"),
        lingua_name="SWAHILI",
        resource="low",
    ),
    Language(
        code="te",
        name="Telugu",
        native_name="తెలుగు",
        script="Telu",
        digits="౦౧౨౩౪౫౬౭౮౯",
        instruction=(r"తెలుగులో దశలవారీగా ఆలోచించి, మీ తుది సమాధానాన్ని \boxed{} లో ఉంచండి."),
        answer_words=("తుది సమాధానం", "సమాధానం", "జవాబు"),
        lingua_name="TELUGU",
        resource="low",
    ),
    Language(
        code="ja",
        name="Japanese",
        native_name="日本語",
        script="Jpan",
        digits="０１２３４５６７８９",
        instruction=r"日本語で段階的に考え、最終的な答えを \boxed{} の中に書いてください。",
        answer_words=("最終的な答え", "最終回答", "答え", "解答", "答"),
        lingua_name="JAPANESE",
    ),
)

LANGUAGES: dict[str, Language] = {lang.code: lang for lang in _ENTRIES}
ALL_CODES: tuple[str, ...] = tuple(LANGUAGES)


class UnknownLanguageError(XlingError):
    pass


def get_language(code: str) -> Language:
    try:
        return LANGUAGES[code.strip().lower()]
    except KeyError:
        raise UnknownLanguageError(
            f"unknown language code {code!r}; known codes: {', '.join(ALL_CODES)}"
        ) from None


def parse_langs(spec: str | Iterable[str]) -> tuple[str, ...]:
    """'all' | 'en,es' | ['en', 'es'] -> validated codes, registry order kept for 'all'."""
    if isinstance(spec, str):
        if spec.strip().lower() == "all":
            return ALL_CODES
        parts = [p for p in (s.strip() for s in spec.split(",")) if p]
    else:
        parts = list(spec)
    if not parts:
        raise UnknownLanguageError(f"no language codes given; known codes: {', '.join(ALL_CODES)}")
    codes = tuple(dict.fromkeys(get_language(p).code for p in parts))
    return codes


def native_digit_table() -> dict[int, int]:
    """str.translate table mapping every registry language's native digits to ASCII."""
    table: dict[int, int] = {}
    for lang in _ENTRIES:
        for value, char in enumerate(lang.digits):
            table[ord(char)] = ord(str(value))
    return table


def all_answer_words() -> tuple[str, ...]:
    """Every language's answer words, longest first so 'Final Answer' wins over 'Answer'."""
    words = {w for lang in _ENTRIES for w in lang.answer_words}
    return tuple(sorted(words, key=len, reverse=True))
