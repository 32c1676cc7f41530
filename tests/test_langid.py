from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from conftest import shared_data

from xling.benchmarks import BenchmarkSpec, load_problems
from xling.langid import (
    KANA_SHARE,
    N_WINDOWS,
    OTHER,
    LangGuess,
    _detector,
    _han_form,
    _has_japanese,
    _lingua_to_code,
    detect_language,
    is_off_target,
    sample_windows,
    strip_for_lid,
)
from xling.languages import ALL_CODES, LANGUAGES
from xling.testing.timing import best_times

# Hand-written: a short final-answer line, a math-heavy sentence and a small reasoning
# trace with markdown, LaTeX and digits, in every registry language.
TEXTS: dict[str, tuple[str, ...]] = {
    "en": (
        "Final answer: 18 dollars",
        r"The answer is $\frac{3}{4}$ of 12, so \boxed{9}.",
        "First, Janet's ducks lay 16 eggs per day. She eats 3 and bakes muffins with 4, so "
        r"$16 - 3 - 4 = 9$ eggs remain. She sells each egg for \$2: $9 \times 2 = 18$. "
        r"**Final Answer:** \boxed{18}",
    ),
    "es": (
        "Respuesta final: 18 dólares",
        r"La respuesta es $\frac{3}{4}$ de 12, así que \boxed{9}.",
        "Primero, los patos de Janet ponen 16 huevos al día. Ella come 3 y usa 4 para hornear, "
        r"así que quedan $16 - 3 - 4 = 9$ huevos. Los vende a 2 dólares cada uno: "
        r"$9 \times 2 = 18$. **Respuesta final:** \boxed{18}",
    ),
    "ru": (
        "Ответ: 18 долларов",
        r"Ответ равен $\frac{3}{4}$ от 12, то есть \boxed{9}.",
        "Сначала утки Джанет несут 16 яиц в день. Она съедает 3 и использует 4 для выпечки, "
        r"поэтому остаётся $16 - 3 - 4 = 9$ яиц. Она продаёт их по 2 доллара: "
        r"$9 \times 2 = 18$. **Ответ:** \boxed{18}",
    ),
    "de": (
        "Endgültige Antwort: 18 Dollar",
        r"Die Antwort ist $\frac{3}{4}$ von 12, also \boxed{9}.",
        "Zuerst legen Janets Enten 16 Eier pro Tag. Sie isst 3 und backt mit 4, also bleiben "
        r"$16 - 3 - 4 = 9$ Eier übrig. Sie verkauft sie für je 2 Dollar: $9 \times 2 = 18$. "
        r"**Endgültige Antwort:** \boxed{18}",
    ),
    "fr": (
        "Réponse finale : 18 dollars",
        r"La réponse est $\frac{3}{4}$ de 12, donc \boxed{9}.",
        "D'abord, les canes de Janet pondent 16 œufs par jour. Elle en mange 3 et en utilise "
        r"4 pour ses muffins, il reste donc $16 - 3 - 4 = 9$ œufs. Elle les vend 2 dollars "
        r"pièce : $9 \times 2 = 18$. **Réponse finale :** \boxed{18}",
    ),
    "bn": (
        "উত্তর: ১৮",
        r"উত্তর হলো ১২ এর $\frac{3}{4}$, তাই \boxed{৯}।",
        "প্রথমে, জ্যানেটের হাঁসগুলো প্রতিদিন ১৬টি ডিম পাড়ে। সে ৩টি খায় এবং ৪টি দিয়ে মাফিন "
        r"বানায়, তাই $16 - 3 - 4 = 9$টি ডিম বাকি থাকে। প্রতিটি ডিম ২ ডলারে বিক্রি করে: "
        r"$9 \times 2 = 18$। **উত্তর:** \boxed{18}",
    ),
    "th": (
        "คำตอบ: ๑๘ บาท",
        r"คำตอบคือ $\frac{3}{4}$ ของ 12 ดังนั้น \boxed{9}",
        "ก่อนอื่น เป็ดของเจเน็ตออกไข่วันละ 16 ฟอง เธอกิน 3 ฟองและใช้ทำมัฟฟิน 4 ฟอง "
        r"จึงเหลือ $16 - 3 - 4 = 9$ ฟอง เธอขายฟองละ 2 ดอลลาร์ ดังนั้น $9 \times 2 = 18$ "
        r"**คำตอบสุดท้าย:** \boxed{18}",
    ),
    "zh": (
        "答案：18美元",
        r"答案是 12 的 $\frac{3}{4}$，所以是 \boxed{9}。",
        r"首先，珍妮特的鸭子每天下16个蛋。她吃掉3个，用4个烤松饼，所以剩下 $16 - 3 - 4 = 9$ "
        r"个蛋。她每个卖2美元：$9 \times 2 = 18$。**最终答案：** \boxed{18}",
    ),
    "sw": (
        "Jibu la mwisho: dola 18",
        r"Jibu ni $\frac{3}{4}$ ya 12, kwa hivyo \boxed{9}.",
        "Kwanza, bata wa Janet hutaga mayai 16 kwa siku. Anakula 3 na kutumia 4 kuoka mikate, "
        r"kwa hivyo yanabaki mayai $16 - 3 - 4 = 9$. Anauza kila yai kwa dola 2: "
        r"$9 \times 2 = 18$. **Jibu la mwisho:** \boxed{18}",
    ),
    "te": (
        "సమాధానం: 18",
        r"సమాధానం 12 లో $\frac{3}{4}$, కాబట్టి \boxed{9}.",
        "ముందుగా, జానెట్ బాతులు రోజుకు 16 గుడ్లు పెడతాయి. ఆమె 3 తింటుంది మరియు 4 తో మఫిన్లు "
        r"చేస్తుంది, కాబట్టి $16 - 3 - 4 = 9$ గుడ్లు మిగిలి ఉంటాయి. ఒక్కో గుడ్డును 2 "
        r"డాలర్లకు అమ్ముతుంది: $9 \times 2 = 18$. **తుది సమాధానం:** \boxed{18}",
    ),
    "ja": (
        "答え：18ドル",
        r"答えは12の$\frac{3}{4}$なので、\boxed{9}です。",
        r"まず、ジャネットのアヒルは1日に16個の卵を産みます。3個を食べ、4個でマフィンを焼くので、"
        r"残りは $16 - 3 - 4 = 9$ 個です。1個2ドルで売るので、$9 \times 2 = 18$ です。"
        r"**最終的な答え:** \boxed{18}",
    ),
}


def test_every_registry_language_has_hand_written_texts() -> None:
    assert set(TEXTS) == set(ALL_CODES)


@pytest.mark.parametrize(
    ("lang", "text"), [(lang, text) for lang, texts in TEXTS.items() for text in texts]
)
def test_hand_written_texts_are_identified(lang: str, text: str) -> None:
    guess = detect_language(text)
    assert guess.lang == lang, (strip_for_lid(text), guess)
    assert 0.0 < guess.confidence <= 1.0


@pytest.mark.parametrize("lang", ALL_CODES)
def test_chat_wrapped_trace_is_identified(lang: str) -> None:
    trace = TEXTS[lang][2]
    wrapped = f"<|im_start|>think\n{trace}\n<|im_start|>answer\n{TEXTS[lang][0]}<|im_end|>"
    assert detect_language(wrapped).lang == lang
    assert detect_language(f"<think>\n{trace}\n</think>\n\n{TEXTS[lang][1]}").lang == lang


def test_japanese_with_kanji_and_chinese_are_told_apart() -> None:
    assert detect_language("合計金額は十八ドルです。").lang == "ja"
    assert detect_language("最终答案是十八美元。").lang == "zh"
    assert detect_language("答案是18").lang == "zh"


# --- strip_for_lid ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # chat markers and the role word glued to an opening marker
        ("<|im_start|>think\nHallo Welt<|im_end|>", "Hallo Welt"),
        ("<|im_start|>thinkআচ্ছা, দেখি<|im_end|>", "আচ্ছা দেখি"),
        ("<|im_start|>assistant\nBonjour<|endoftext|>", "Bonjour"),
        ("<|im_start|>answer\nAnswer: 18", "Answer"),
        ("<think>\nok then\n</think>\n\nsure", "ok then sure"),
        # LaTeX math in every delimiter; \text{} words survive, inside math and \boxed{}
        (r"a $$x^2+1=5$$ b \(y\) c \[z=1\] d $\sqrt{2}$ e", "a b c d e"),
        (r"so $5 \text{ apples} + 3\text{ pears}$ in all", "so apples pears in all"),
        (r"\boxed{18 \text{ dollars}} and \textbf{bold}", "dollars and bold"),
        (r"\boxed{\frac{a}{b}} done", "done"),
        ("\\begin{align} x &= 1 \\\\ y &= 2 \\end{align} fin", "fin"),
        # prices are not math: "$20 … $30" must keep the words between them
        ("costs $20 and $30 in total", "costs and in total"),
        # code and URLs
        ("```python\nprint('hello world')\n```\nvoilà `x = 1` fini", "voilà fini"),
        ("see https://example.org/a?b=1 and www.example.com/x now", "see and now"),
        # numbers in every script, currency and unit symbols, markdown punctuation
        ("১৮ ๑๘ １８ 18 3.5 1,000 ৳ € ¥ ₹ % ° ²", ""),
        ("**Antwort:** # Titel | a | - Punkt > Zitat", "Antwort Titel a Punkt Zitat"),
        # combining marks of Indic and Thai scripts are part of words, kana stays
        ("উত্তর: ১৮", "উত্তর"),
        ("సమాధానం: 18", "సమాధానం"),
        ("คำตอบคือ ๑๘ บาท", "คำตอบคือ บาท"),
        ("答え：18ドル", "答え ドル"),
        ("  lots \n\n of\tspace  ", "lots of space"),
    ],
)
def test_strip_for_lid(text: str, expected: str) -> None:
    assert strip_for_lid(text) == expected


@pytest.mark.parametrize(
    "text", ["", "   ", r"$$x^2+1=5$$ \boxed{2}", "18", "x = 5", "**42**", "$\\$18$ ০১২"]
)
def test_nothing_to_identify_gives_none(text: str) -> None:
    assert detect_language(text) == LangGuess(None, 0.0)


@pytest.mark.parametrize(
    "text",
    [
        "답은 열여덟 달러입니다. 사과 세 개를 샀습니다.",  # Korean
        "उत्तर अठारह डॉलर है क्योंकि उसने तीन सेब खरीदे।",  # Hindi (Devanagari)
        "התשובה היא שמונה עשר דולר",  # Hebrew
    ],
)
def test_script_outside_the_registry_is_other_and_off_target(text: str) -> None:
    guess = detect_language(text)
    assert guess == LangGuess(OTHER, 1.0)
    assert is_off_target(guess, "en") is True
    assert is_off_target(guess, "bn") is True


def test_other_script_counts_by_its_share_of_the_text() -> None:
    english = TEXTS["en"][2] + " "
    korean = "답은 열여덟 달러입니다. 사과 세 개를 샀고 두 개를 먹었습니다. " * 2
    assert detect_language(english * 5 + korean).lang == "en"
    assert detect_language(korean * 6 + english).lang == OTHER
    assert detect_language("θ = π/2").lang is None  # a symbol or two is not another language


# --- long texts ----------------------------------------------------------------------------


def test_sample_windows_keeps_short_texts_whole() -> None:
    assert sample_windows("kurz und gut", 2000) == ["kurz und gut"]
    words = [f"w{i:04d}" for i in range(250)]  # 1,499 characters: all of it, in pieces
    pieces = sample_windows(" ".join(words), 2000)
    assert len(pieces) == round(1499 / (2000 // N_WINDOWS))  # of about 2000 // N_WINDOWS chars
    assert " ".join(pieces).split() == words  # nothing lost, no word split


def test_sample_windows_spreads_windows_from_head_to_tail() -> None:
    words = [f"w{i:04d}" for i in range(2000)]  # 10,000 characters
    pieces = sample_windows(" ".join(words), 400)
    kept = " ".join(pieces).split()
    assert len(pieces) == N_WINDOWS
    assert sum(map(len, pieces)) <= 400 + 10 * N_WINDOWS  # about max_chars
    assert kept[0] == "w0000" and kept[-1] == "w1999"
    assert all(word in words for word in kept)  # cut at spaces: no word is split
    assert [w for w in kept if 600 <= int(w[1:]) < 1400]  # the middle is represented too


def test_sample_windows_cuts_unspaced_scripts_anywhere() -> None:
    pieces = sample_windows("คำตอบคือสิบแปดบาท" * 500, 1000)
    assert [len(piece) for piece in pieces] == [1000 // N_WINDOWS] * N_WINDOWS


def test_long_drifting_trace_is_judged_by_its_whole_length() -> None:
    bengali = TEXTS["bn"][2] + " "
    english = TEXTS["en"][2] + " "
    # ~9,000 characters that start and end with ~800 characters of one language but are
    # mostly the other in between: a head + tail sample of 2,000 would get both wrong.
    assert detect_language(bengali * 6 + english * 60 + bengali * 6).lang == "en"
    assert detect_language(english * 6 + bengali * 60 + english * 6).lang == "bn"


def test_mixed_text_is_judged_by_its_majority() -> None:
    english = TEXTS["en"][2] + " "
    bengali = TEXTS["bn"][2] + " "
    german = TEXTS["de"][2] + " "
    # Pieces of about 125 characters vote, so the majority must be clear at that scale.
    assert detect_language(bengali * 4 + english).lang == "bn"
    assert detect_language(english * 5 + bengali).lang == "en"
    # One lingua call on this whole German/English mix says German; the vote does not.
    guess = detect_language(german * 2 + english * 12 + german * 2)
    assert guess.lang == "en"
    assert 0.5 < guess.confidence < 0.95  # a mixed text is not surely English
    assert detect_language(german * 12).confidence > 0.99


# --- off-target -------------------------------------------------------------------------------


def test_is_off_target() -> None:
    assert is_off_target(LangGuess("en", 0.9), "en") is False
    assert is_off_target(LangGuess("en", 0.9), "bn") is True
    assert is_off_target(LangGuess(None, 0.0), "bn") is None


# --- the detector -------------------------------------------------------------------------


def test_detector_covers_exactly_the_registry_and_is_built_once() -> None:
    assert sorted(_lingua_to_code().values()) == sorted(LANGUAGES)
    assert _detector() is _detector()


# --- real data ------------------------------------------------------------------------------


def _mgsm_questions() -> list[tuple[str, str]]:
    problems = load_problems(BenchmarkSpec("mgsm", str(shared_data("mgsm"))), "all")
    return [(p.lang, p.question) for p in problems]


def _accuracy(rows: list[tuple[str, str]]) -> dict[str, float]:
    hits, totals = Counter(), Counter()
    for lang, text in rows:
        totals[lang] += 1
        hits[lang] += detect_language(text).lang == lang
    return {lang: hits[lang] / totals[lang] for lang in totals}


def test_mgsm_questions_are_identified() -> None:
    # bench/langid_choice.py measured 100.0% in every language; allow a few misses.
    accuracy = _accuracy(_mgsm_questions())
    assert set(accuracy) == set(ALL_CODES)
    assert all(acc >= 0.98 for acc in accuracy.values()), accuracy


def test_mgsm_question_openings_are_identified() -> None:
    # The first 40 characters, often little more than a name and a verb: measured
    # 98.0% (de) to 100%.
    accuracy = _accuracy([(lang, q[:40]) for lang, q in _mgsm_questions()])
    assert all(acc >= 0.95 for acc in accuracy.values()), accuracy


def test_stripping_is_linear_in_unclosed_math() -> None:
    # A lazy ".*?" per math delimiter rescanned to the end of the text from every unclosed
    # opener: 80 kB of "\[" took 19 s, past the scorer's timeout.
    for unit in ("\\[ x ", "\\( x ", "\\begin{a} x ", "$$ x "):
        small_text, large_text = unit * 10_000, unit * 20_000
        small, large = best_times(
            lambda s=small_text: strip_for_lid(s), lambda s=large_text: strip_for_lid(s)
        )
        assert large <= 3 * small + 0.005, (unit, small, large)
    assert strip_for_lid("Hallo \\[ x \\] Welt \\[ offen") == "Hallo Welt offen"
    # the stray \end{c} after the environment loses its command name, as any command does
    assert strip_for_lid("a \\begin{b} x \\begin{c} y \\end{b} z \\end{c} d") == "a z c d"


# --- script evidence: kanji-dense Japanese, Thai quoting Chinese ---------------------------

LANGID_DATA = Path(__file__).parent / "data" / "langid"
_KANA = re.compile(r"[\u3040-\u30ff]")
_HAN = re.compile(r"[\u4e00-\u9fff]")


def _corpus(name: str) -> list[str]:
    return (LANGID_DATA / f"{name}.txt").read_text(encoding="utf-8").splitlines()


def _traces(lines: list[str], size: int) -> list[str]:
    """Every run of `size` consecutive lines of a corpus: short traces."""
    return ["\n".join(lines[i : i + size]) for i in range(len(lines) - size + 1)]


def test_han_forms_come_from_the_national_character_sets() -> None:
    assert [_han_form(c) for c in "個総売単問題"] == [1] * 6  # Japanese (and traditional)
    assert [_han_form(c) for c in "们总卖单问题"] == [-1] * 6  # simplified
    assert [_han_form(c) for c in "人大三日"] == [0] * 4  # written alike


def test_kanji_dense_japanese_is_japanese() -> None:
    lines = _corpus("ja_kanji_dense")
    assert len(lines) >= 20
    # What lingua misreads: most lines hold no kana, so most pieces look Chinese to it.
    assert sum(bool(_KANA.search(line)) for line in lines) <= len(lines) // 8
    text = "\n".join(lines)
    assert _has_japanese([strip_for_lid(text)])
    guess = detect_language(text)
    assert guess.lang == "ja" and guess.confidence > 0.9, guess
    # Traces of 12 lines (a few pieces each) with some kana: lingua's votes alone read 6 of
    # these 14 as Chinese.
    traces = [trace for trace in _traces(lines, 12) if _KANA.search(trace)]
    assert len(traces) >= 10
    assert [detect_language(trace).lang for trace in traces] == ["ja"] * len(traces)


def test_thai_quoting_chinese_is_thai() -> None:
    lines = _corpus("th_quoting_zh")
    assert len(lines) >= 20 and all(_HAN.search(line) for line in lines)
    assert [detect_language(line).lang for line in lines] == ["th"] * len(lines)
    assert detect_language("\n".join(lines)).lang == "th"


def test_plain_chinese_stays_chinese() -> None:
    lines = _corpus("zh_plain")
    assert len(lines) >= 20
    assert [detect_language(line).lang for line in lines] == ["zh"] * len(lines)
    assert detect_language("\n".join(lines)) == LangGuess("zh", 1.0)


def test_chinese_that_quotes_japanese_stays_chinese() -> None:
    # Enough kana that the text counts as holding Japanese, yet its Chinese pieces are in
    # simplified forms and keep voting Chinese.
    text = (
        "合計金額は十八ドルです。まず卵の数を数えます。\n"
        + "\n".join(_corpus("zh_plain"))
        + "\nよって答えは十八ドルになります。"
    )
    assert _has_japanese([strip_for_lid(text)])
    assert detect_language(text).lang == "zh"


def test_chinese_after_a_thai_question_stays_chinese() -> None:
    # Thai elsewhere in the text does not make a piece wholly in Chinese Thai.
    thai = "ร้านขายไข่ฟองละสองบาท วันนี้ขายได้ทั้งหมดกี่บาท"
    assert detect_language(thai + "\n" + "\n".join(_corpus("zh_plain"))).lang == "zh"


def test_a_stray_kana_does_not_make_traditional_chinese_japanese() -> None:
    # Traditional Chinese shares Japanese forms; only kana tell the two apart. Two kana in
    # a long text (a quoted name) are under KANA_SHARE: its pieces stay Chinese.
    traditional = "這個問題的關鍵是先算出總數，再減去已經用掉的部分。每個蛋賣兩美元。" * 12
    text = "ドラ" + traditional
    assert KANA_SHARE * len(_HAN.findall(text)) > 2
    assert not _has_japanese([strip_for_lid(text)])
    assert detect_language(text).lang == "zh"


def test_s1_traces_keep_their_language_under_script_evidence() -> None:
    """Real s1.1 traces (shared data): Japanese and Chinese traces are identified as such,
    and a Chinese trace stays Chinese with the Japanese MGSM question put before it."""
    rows = [
        json.loads(line)
        for line in (shared_data("s1-traces") / "s1.1_sample.jsonl").read_text().splitlines()
    ]
    questions = {
        p.id: p.question
        for p in load_problems(BenchmarkSpec("mgsm", str(shared_data("mgsm"))), "ja")
    }
    by_lang: dict[str, list[str]] = {"ja": [], "zh": []}
    for row in rows:
        if row["language"] in by_lang:
            by_lang[row["language"]].append(row["output"])
    assert len(by_lang["ja"]) == len(by_lang["zh"]) == 60
    assert Counter(detect_language(o).lang for o in by_lang["ja"]) == {"ja": 60}
    assert Counter(detect_language(o).lang for o in by_lang["zh"]) == {"zh": 60}
    zh_rows = [row for row in rows if row["language"] == "zh"]
    prefixed = [questions[str(row["mgsm_index"])] + "\n" + row["output"] for row in zh_rows]
    assert Counter(detect_language(text).lang for text in prefixed) == {"zh": 60}
