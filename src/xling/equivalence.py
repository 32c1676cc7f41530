"""Is a predicted answer equal to the gold answer?

Numbers (the overwhelming case in math word problems) are compared exactly as
fractions by our own code; integers of any length as digit strings, so a 5,000-digit
answer neither hits Python's int-conversion limit nor takes seconds to convert. Anything
else goes to math-verify, but only through its LaTeX path and only after a whitelist
check: math-verify's plain-expression path calls sympy's `parse_expr`, which is `eval`
underneath, so untrusted text never reaches it.
Callers run this under a hard timeout (see `scoring.py`): sympy can take forever on
`9^{9^{9^{9}}}` and no in-process check can bound that.
"""

from __future__ import annotations

import re
from fractions import Fraction

from xling.extract import parse_number

# Characters LaTeX math answers are made of. Quotes, backticks, '#', '@', '__' and
# other Python-ish material are refused outright.
_SAFE_LATEX_RE = re.compile(r"[0-9A-Za-z\\{}\[\]()^_+\-*/=.,:;!|<>' \u03b1-\u03c9\u00b0√∞π]{1,500}")
_UNSAFE_WORDS_RE = re.compile(r"__|import|lambda|exec|eval|open\s*\(|system|getattr|\bos\.")
NUMERIC_RTOL = 1e-6


def is_safe_latex(text: str) -> bool:
    return bool(_SAFE_LATEX_RE.fullmatch(text)) and not _UNSAFE_WORDS_RE.search(text)


_INTEGER_RE = re.compile(r"-?\d+")


def numbers_equal(a: Fraction, b: Fraction) -> bool:
    if a == b:
        return True
    if a.denominator == 1 and b.denominator == 1:
        # Two integers are equal or not: within 1e-6 of each other, 1234567891 is not
        # 1234567890.
        return False
    # Rounded decimals ("0.333" for 1/3) are accepted within a tight relative tolerance.
    return abs(a - b) <= NUMERIC_RTOL * max(1, abs(b))


def _integer_digits(text: str) -> str:
    """A plain integer's digits without leading zeros or the sign of zero."""
    negative = text.startswith("-")
    digits = text.lstrip("-").lstrip("0") or "0"
    return "-" + digits if negative and digits != "0" else digits


def answers_equal(pred: str | None, gold: str) -> bool:
    """Canonical pred (from `extract_answer`) vs canonical gold (from `normalize_answer`)."""
    if pred is None:
        return False
    if pred == gold:
        return True
    if _INTEGER_RE.fullmatch(pred) and _INTEGER_RE.fullmatch(gold):
        return _integer_digits(pred) == _integer_digits(gold)
    pred_num, gold_num = parse_number(pred), parse_number(gold)
    if pred_num is not None and gold_num is not None:
        return numbers_equal(pred_num, gold_num)
    if not (is_safe_latex(pred) and is_safe_latex(gold)):
        return False
    return _math_verify_equal(pred, gold)


def _math_verify_equal(pred: str, gold: str) -> bool:
    # Imported lazily: sympy + antlr cost ~1 s and most runs never need them.
    from math_verify import LatexExtractionConfig, parse, verify

    config = [LatexExtractionConfig()]
    # Timeouts are off inside math-verify (they use SIGALRM); the caller's worker
    # process enforces a hard timeout instead.
    gold_parsed = parse(f"${gold}$", extraction_config=config, parsing_timeout=None)
    pred_parsed = parse(f"${pred}$", extraction_config=config, parsing_timeout=None)
    if not gold_parsed or not pred_parsed:
        return False
    return bool(verify(gold_parsed, pred_parsed, timeout_seconds=None))
