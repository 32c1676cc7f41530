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
    # What answer extraction reads in model output (xling.extract, xling.choice). Kept apart
    # from `answer_words`, which the organism's tokenizer corpus is built from.
    short_answer_words: tuple[str, ...] = ()  # abbreviations and variants ("Ans", "答", "ตอบ")
    answer_copulas: tuple[str, ...] = ()  # what links an announcement to its value ("is", "は")
    therefore_words: tuple[str, ...] = ()  # how a concluding sentence opens ("Therefore", "所以")
    amount_links: tuple[str, ...] = ()  # what links a count to its amount ("5 tickets cost $37")
    currency_words: tuple[str, ...] = ()  # money words written after an amount ("dollars")
    or_words: tuple[str, ...] = ()  # joins two boxes stating one quantity ("130 min or 2 h 10")
    and_words: tuple[str, ...] = ()  # "A and C": a list of choices, no single answer
    choice_words: tuple[str, ...] = ()  # "option C", "opción C"
    negations: tuple[str, ...] = ()  # a negation before what it negates ("not A but C")
    negations_after: tuple[str, ...] = ()  # a negation after it ("AではなくC")

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
        short_answer_words=("Ans", "Final result"),
        answer_copulas=("is", "will be", "equals", "="),
        therefore_words=("Therefore", "Thus", "Hence", "So", "In total", "Altogether"),
        amount_links=(
            "cost",
            "costs",
            "is",
            "are",
            "equals",
            "makes",
            "make",
            "earns",
            "earn",
            "totals",
            "comes to",
            "come to",
            "pays",
            "spends",
        ),
        currency_words=("dollars", "dollar", "cents", "euros", "pounds", "USD"),
        or_words=("or", "i.e.", "that is", "which is"),
        and_words=("and",),
        choice_words=("option", "choice", "letter"),
        negations=("not", "isn't", "is not", "rather than", "instead of"),
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
        short_answer_words=("Resp.", "Resultado final"),
        answer_copulas=("es", "será", "="),
        therefore_words=("Por lo tanto", "Por tanto", "Así que", "Entonces", "En total", "Así,"),
        amount_links=("cuestan", "cuesta", "es", "son", "suman", "gana", "ganan", "paga", "gasta"),
        currency_words=("dólares", "dólar", "euros", "pesos", "centavos"),
        or_words=("o", "es decir", "o sea"),
        and_words=("y", "e"),
        choice_words=("opción", "alternativa", "letra"),
        negations=("no es", "no", "en lugar de"),
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
        short_answer_words=("Отв.", "Итог"),
        answer_copulas=("—", "-", "равен", "равно", "составляет", "будет", "="),
        therefore_words=("Поэтому", "Итак", "Таким образом", "Значит", "Следовательно", "Всего"),
        amount_links=("стоят", "стоит", "составляет", "равно", "заработает", "заплатит", "—"),
        currency_words=("долларов", "доллара", "доллар", "рублей", "рубля", "евро"),
        or_words=("или", "то есть", "т. е."),
        and_words=("и",),
        choice_words=("вариант", "ответ", "буква"),
        negations=("не", "а не", "вместо"),
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
        short_answer_words=("Antw.", "Endergebnis"),
        answer_copulas=("ist", "lautet", "beträgt", "="),
        therefore_words=("Also", "Daher", "Somit", "Folglich", "Insgesamt", "Damit"),
        amount_links=("kosten", "kostet", "sind", "ist", "ergeben", "macht", "verdient", "zahlt"),
        currency_words=("Dollar", "Euro", "Cent"),
        or_words=("oder", "also", "d. h.", "das heißt"),
        and_words=("und",),
        choice_words=("Option", "Antwort", "Auswahl", "Buchstabe"),
        negations=("nicht", "statt", "anstatt"),
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
        short_answer_words=("Rép.", "Résultat final"),
        answer_copulas=("est", "sera", "="),
        therefore_words=("Donc", "Ainsi", "Par conséquent", "Au total", "En tout"),
        amount_links=("coûtent", "coûte", "font", "fait", "est", "sont", "gagne", "paie"),
        currency_words=("dollars", "dollar", "euros", "euro", "centimes"),
        or_words=("ou", "soit", "c'est-à-dire"),
        and_words=("et",),
        choice_words=("option", "choix", "lettre", "réponse"),
        negations=("pas", "non", "plutôt que", "au lieu de"),
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
        short_answer_words=("উঃ", "চূড়ান্ত ফলাফল"),
        answer_copulas=("হলো", "হল", "হচ্ছে", "হবে", "="),
        therefore_words=("সুতরাং", "অতএব", "তাই", "তাহলে", "মোট"),
        amount_links=("দাম", "খরচ", "হলো", "হল", "মোট", "আয়"),
        currency_words=("ডলার", "টাকা", "সেন্ট", "রুপি"),
        or_words=("অথবা", "বা", "অর্থাৎ"),
        and_words=("ও", "এবং"),
        choice_words=("বিকল্প", "অপশন"),
        negations_after=("নয়", "নয়", "না"),
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
        short_answer_words=("ตอบ",),
        answer_copulas=("คือ", "เท่ากับ", "ได้", "="),
        therefore_words=("ดังนั้น", "เพราะฉะนั้น", "สรุปว่า", "รวมทั้งหมด"),
        amount_links=("ราคา", "คือ", "เป็นเงิน", "รวม", "ได้เงิน", "จ่าย"),
        currency_words=("ดอลลาร์", "บาท", "เซนต์"),
        or_words=("หรือ", "คือ", "นั่นคือ"),
        and_words=("และ",),
        choice_words=("ตัวเลือก", "ข้อ"),
        negations=("ไม่ใช่", "ไม่"),
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
        short_answer_words=("最后答案", "最終答案"),
        answer_copulas=("是", "为", "為", "="),
        therefore_words=("所以", "因此", "因而", "故", "综上", "总共"),
        amount_links=("共", "花了", "花", "是", "为", "需要", "赚", "付"),
        currency_words=("美元", "元", "块", "美分"),
        or_words=("或", "即", "也就是"),
        and_words=("和", "与", "及"),
        choice_words=("选项", "選項"),
        negations=("不是", "而不是", "不"),
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
        short_answer_words=("Jawabu",),
        answer_copulas=("ni", "="),
        therefore_words=("Kwa hiyo", "Hivyo", "Kwa hivyo", "Kwa jumla", "Jumla"),
        amount_links=("zinagharimu", "inagharimu", "gharama", "ni", "jumla", "analipa", "anapata"),
        currency_words=("dola", "shilingi", "senti"),
        or_words=("au", "yaani"),
        and_words=("na",),
        choice_words=("chaguo", "jibu"),
        negations=("si", "siyo", "sio", "badala ya"),
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
        short_answer_words=("జ", "సమాధానము"),
        answer_copulas=("అనేది", "=", "-"),
        therefore_words=("కాబట్టి", "అందువల్ల", "అందుకే", "మొత్తం"),
        amount_links=("ఖర్చు", "ధర", "మొత్తం", "సంపాదిస్తుంది", "చెల్లిస్తుంది"),
        currency_words=("డాలర్లు", "డాలర్", "రూపాయలు", "సెంట్లు"),
        or_words=("లేదా", "అంటే"),
        and_words=("మరియు",),
        choice_words=("ఎంపిక", "ఆప్షన్"),
        negations_after=("కాదు", "కానిది"),
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
        short_answer_words=("答えは", "正解", "回答", "結論", "こたえ"),
        answer_copulas=("は", "が", "="),
        therefore_words=("したがって", "よって", "従って", "ゆえに", "つまり", "なので", "合計"),
        amount_links=("で", "は", "合計", "かかり", "かかる", "払う"),
        currency_words=("ドル", "円", "セント"),
        or_words=("または", "つまり", "すなわち", "即ち"),
        and_words=("と", "及び"),
        choice_words=("選択肢", "選択"),
        negations_after=("ではなく", "ではない", "じゃなく", "でなく"),
    ),
)

LANGUAGES: dict[str, Language] = {lang.code: lang for lang in _ENTRIES}
ALL_CODES: tuple[str, ...] = tuple(LANGUAGES)
# The order in which the paper adds parallel languages to English: X = 2 is en, es, ru.
PARALLEL_ORDER: tuple[str, ...] = ("es", "ru", "de", "fr", "bn", "th", "zh")


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
