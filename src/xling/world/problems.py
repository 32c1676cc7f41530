"""Structured problems: a type name, integer parameters, arithmetic steps and the answer.

Every problem type is a generator `rng -> (params, steps)`; the answer is the last step's
result. Which split a problem belongs to is a pure function of its canonical key (type +
numeric parameters, not the names or objects it is dressed in), so no seed of the train
split ever produces an underlying problem of the test split, and vice versa.

Two split schemes cut the same hash line. "v2" (the default, what every study before the
organism v3 used): test is the lowest 20%, train the rest. "v3": the same train region,
and the old test region halved by content into validation (lowest 10%) and test, so that
designs and recipes chosen on validation can never have looked at a test problem. Train is
the same region in both, so an organism pretrained under either has seen neither. v3 draws
its problems from streams of its own, so a v3 test set is not the v2 test set's problems
that happen to fall in its half.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from xling.errors import XlingError

SPLITS = ("train", "test")
TEST_FRACTION = 0.2  # share of all (type, parameters) combinations that belong to "test"
# scheme -> split -> [lo, hi) of the problem's hash position in [0, 1)
SPLIT_SCHEMES: dict[str, dict[str, tuple[float, float]]] = {
    "v2": {"test": (0.0, TEST_FRACTION), "train": (TEST_FRACTION, 1.0)},
    "v3": {
        "validation": (0.0, TEST_FRACTION / 2),
        "test": (TEST_FRACTION / 2, TEST_FRACTION),
        "train": (TEST_FRACTION, 1.0),
    },
}
DEFAULT_SCHEME = "v2"
N_NAMES = 8  # every language lists 8 people (even index masculine, odd feminine)
N_ITEMS = 6  # and 6 countable objects: apple, pencil, notebook, orange, cookie, balloon
MAX_TRIES = 2000  # draws per slot before a type counts as exhausted for this split
BILLS = (10, 20, 50, 100, 200, 500)
NAME_SLOTS = ("name", "name2", "name3")  # template placeholders for distinct people
ITEM_SLOTS = ("item", "item2")  # and for distinct objects
OPS = ("+", "-", "×", "÷")


class SyntheticError(XlingError):
    pass


@dataclass(frozen=True)
class Step:
    """One line of arithmetic, e.g. operands (17, 3, 5), ops ("-", "-"), result 9."""

    operands: tuple[int, ...]
    ops: tuple[str, ...]
    result: int

    def render(
        self, num: Callable[[int], str] = str, words: Mapping[str, str] | None = None
    ) -> str:
        """ "17 - 3 - 5 = 9", or with `words` (a language's + - × ÷ = words) "17 minus 3
        minus 5 is 9"."""
        say = (lambda op: op) if not words else words.__getitem__
        parts = [num(self.operands[0])]
        for op, value in zip(self.ops, self.operands[1:], strict=True):
            parts += [say(op), num(value)]
        return " ".join(parts) + f" {say('=')} " + num(self.result)


def step(*terms: Any) -> Step:
    """step(a, "×", b, "÷", c): evaluated left to right (chains mix only + - or only × ÷,
    so this equals the usual precedence). Division must be exact; values stay >= 0."""
    operands = tuple(terms[0::2])
    ops = tuple(terms[1::2])
    if len(operands) != len(ops) + 1 or not all(op in OPS for op in ops):
        raise ValueError(f"bad step {terms!r}")
    if len({op in "+-" for op in ops}) > 1:
        raise ValueError(f"step mixes precedence levels: {terms!r}")
    value = operands[0]
    for op, x in zip(ops, operands[1:], strict=True):
        if op == "+":
            value += x
        elif op == "-":
            value -= x
        elif op == "×":
            value *= x
        else:
            if x == 0 or value % x:
                raise ValueError(f"inexact division in {terms!r}")
            value //= x
        if value < 0:
            raise ValueError(f"negative intermediate value in {terms!r}")
    return Step(operands, ops, value)


@dataclass(frozen=True)
class StructuredProblem:
    id: str  # the same in every language
    type: str
    params: dict[str, int]  # the numbers the question states (and derived ones it shows)
    vocab: dict[str, int]  # indices into a language's names ("name", …) and items ("item", …)
    steps: tuple[Step, ...]
    answer: int
    split: str

    @property
    def key(self) -> str:
        return canonical_key(self.type, self.params)


Generator = Callable[[random.Random], tuple[dict[str, int], list[Step]]]


@dataclass(frozen=True)
class ProblemType:
    name: str
    names: int  # how many distinct people the story needs (0-3)
    items: int  # how many distinct objects (0-2)
    generate: Generator


PROBLEM_TYPES: dict[str, ProblemType] = {}


def _problem(name: str, *, names: int = 0, items: int = 0) -> Callable[[Generator], Generator]:
    def register(fn: Generator) -> Generator:
        if name in PROBLEM_TYPES:
            raise ValueError(f"duplicate problem type {name}")
        PROBLEM_TYPES[name] = ProblemType(name, names, items, fn)
        return fn

    return register


def _mult(r: random.Random, lo: int, hi: int, k: int) -> int:
    """A random multiple of k in [lo, hi]."""
    return k * r.randint(-(-lo // k), hi // k)


# --- the problem types -----------------------------------------------------------------
# Counts that a question states are >= 2 (templates may use plural forms for them).


@_problem("buy_change", names=1, items=1)
def _buy_change(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    k, p = r.randint(2, 12), r.randint(2, 40)
    cost = k * p
    bill = next(b for b in BILLS if b > cost)
    return {"k": k, "p": p, "bill": bill}, [step(k, "×", p), step(bill, "-", cost)]


@_problem("buy_two_items", names=1, items=2)
def _buy_two_items(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    a, p, b, q = r.randint(2, 9), r.randint(2, 20), r.randint(2, 9), r.randint(2, 20)
    return {"a": a, "p": p, "b": b, "q": q}, [
        step(a, "×", p),
        step(b, "×", q),
        step(a * p, "+", b * q),
    ]


@_problem("distance", names=1)
def _distance(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    v, t = r.randint(10, 120), r.randint(2, 9)
    return {"v": v, "t": t}, [step(v, "×", t)]


@_problem("travel_time")
def _travel_time(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    v, t = r.randint(10, 150), r.randint(2, 12)
    return {"v": v, "d": v * t}, [step(v * t, "÷", v)]


@_problem("age_future", names=1)
def _age_future(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    a, n = r.randint(4, 70), r.randint(2, 30)
    return {"a": a, "n": n}, [step(a, "+", n)]


@_problem("age_older", names=2)
def _age_older(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    a, d, n = r.randint(3, 40), r.randint(2, 30), r.randint(2, 20)
    return {"a": a, "d": d, "n": n}, [step(a, "+", d), step(a + d, "+", n)]


@_problem("share_equally", names=1, items=1)
def _share_equally(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    k, q = r.randint(2, 12), r.randint(2, 30)
    return {"N": k * q, "k": k}, [step(k * q, "÷", k)]


@_problem("share_remainder", names=1, items=1)
def _share_remainder(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    k, q = r.randint(3, 12), r.randint(2, 15)
    rem = r.randint(1, k - 1)
    n = k * q + rem
    return {"N": n, "k": k, "q": q}, [step(k, "×", q), step(n, "-", k * q)]


@_problem("discount")
def _discount(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    price, d = _mult(r, 40, 1000, 20), r.choice((10, 15, 20, 25, 30, 40, 50))
    cut = price * d // 100
    return {"P": price, "d": d}, [step(price, "×", d, "÷", 100), step(price, "-", cut)]


@_problem("hours_to_minutes")
def _hours_to_minutes(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    h, m = r.randint(2, 12), r.randint(2, 59)
    return {"h": h, "m": m}, [step(h, "×", 60), step(h * 60, "+", m)]


@_problem("weekly_savings", names=1)
def _weekly_savings(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    a, s, w = r.randint(2, 150), r.randint(2, 40), r.randint(2, 12)
    return {"a": a, "s": s, "w": w}, [step(s, "×", w), step(a, "+", s * w)]


@_problem("rect_area")
def _rect_area(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    w, h = r.randint(2, 40), r.randint(2, 40)
    return {"w": w, "h": h}, [step(w, "×", h)]


@_problem("rect_perimeter")
def _rect_perimeter(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    w, h = r.randint(2, 99), r.randint(2, 99)
    return {"w": w, "h": h}, [step(w, "+", h), step(2, "×", w + h)]


@_problem("fence_cost")
def _fence_cost(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    w, h, c = r.randint(3, 30), r.randint(3, 30), r.randint(2, 15)
    per = 2 * (w + h)
    return {"w": w, "h": h, "c": c}, [step(w, "+", h), step(2, "×", w + h), step(per, "×", c)]


@_problem("eggs_market", names=1)
def _eggs_market(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    a, b, p = r.randint(2, 6), r.randint(2, 8), r.randint(2, 12)
    e = r.randint(a + b + 2, 40)
    left = e - a - b
    return {"e": e, "a": a, "b": b, "p": p}, [step(e, "-", a, "-", b), step(left, "×", p)]


@_problem("pages_left", names=1)
def _pages_left(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    rate, days = r.randint(5, 40), r.randint(2, 10)
    pages = r.randint(rate * days + 2, 500)
    read = rate * days
    return {"P": pages, "r": rate, "days": days}, [step(rate, "×", days), step(pages, "-", read)]


@_problem("days_to_read", names=1)
def _days_to_read(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    rate, days = r.randint(5, 50), r.randint(2, 25)
    return {"P": rate * days, "r": rate}, [step(rate * days, "÷", rate)]


@_problem("boxes_packs")
def _boxes_packs(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    b, c, k = r.randint(2, 12), r.randint(2, 10), r.randint(2, 12)
    return {"b": b, "c": c, "k": k}, [step(b, "×", c), step(b * c, "×", k)]


@_problem("bus_passengers")
def _bus_passengers(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    a = r.randint(10, 60)
    b, c = r.randint(2, a - 2), r.randint(2, 30)
    return {"a": a, "b": b, "c": c}, [step(a, "-", b), step(a - b, "+", c)]


@_problem("wage", names=1)
def _wage(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    w, h, days = r.randint(5, 40), r.randint(2, 10), r.randint(2, 7)
    return {"w": w, "h": h, "days": days}, [step(w, "×", h), step(w * h, "×", days)]


@_problem("baking_flour", names=1)
def _baking_flour(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    f, c = _mult(r, 100, 500, 25), r.randint(2, 6)
    total = f * c + _mult(r, 50, 1500, 50)
    return {"F": total, "f": f, "c": c}, [step(f, "×", c), step(total, "-", f * c)]


@_problem("kg_to_grams")
def _kg_to_grams(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    a, b = r.randint(2, 9), r.randint(2, 999)
    return {"a": a, "b": b}, [step(a, "×", 1000), step(a * 1000, "+", b)]


@_problem("tank_fill")
def _tank_fill(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    rate, t, have = r.randint(2, 15), r.randint(2, 30), _mult(r, 5, 200, 5)
    cap = have + rate * t
    return {"C": cap, "L": have, "r": rate}, [step(cap, "-", have), step(rate * t, "÷", rate)]


@_problem("times_as_many", names=3, items=1)
def _times_as_many(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    a, m = r.randint(2, 20), r.randint(2, 4)  # ru says "в 2-4 раза"
    f = r.randint(2, a * m - 2)
    b, c = a * m, a * m - f
    return {"a": a, "m": m, "f": f}, [step(a, "×", m), step(b, "-", f), step(a, "+", b, "+", c)]


@_problem("orchard")
def _orchard(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    rows, t, f = r.randint(2, 15), r.randint(2, 20), r.randint(2, 25)
    return {"r": rows, "t": t, "f": f}, [step(rows, "×", t), step(rows * t, "×", f)]


@_problem("yearly_bills", names=1)
def _yearly_bills(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    m, u = _mult(r, 20, 400, 10), _mult(r, 10, 90, 5)
    return {"m": m, "u": u}, [step(m, "+", u), step(m + u, "×", 12)]


@_problem("average_score", names=1)
def _average_score(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    a, b = r.randint(30, 100), r.randint(30, 100)
    c = r.choice([x for x in range(30, 101) if (a + b + x) % 3 == 0])
    s = a + b + c
    return {"a": a, "b": b, "c": c}, [step(a, "+", b, "+", c), step(s, "÷", 3)]


@_problem("give_away", names=3, items=1)
def _give_away(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    a, b = r.randint(2, 20), r.randint(2, 20)
    n = r.randint(a + b + 2, 99)
    return {"N": n, "a": a, "b": b}, [step(n, "-", a, "-", b)]


@_problem("unit_price", names=1, items=1)
def _unit_price(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    k, p = r.randint(2, 15), r.randint(2, 40)
    return {"T": k * p, "k": k}, [step(k * p, "÷", k)]


@_problem("profit", names=1, items=1)
def _profit(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    k, c = r.randint(3, 30), r.randint(2, 20)
    s = r.randint(c + 1, c + 15)
    return {"k": k, "c": c, "s": s}, [step(k, "×", s), step(k, "×", c), step(k * s, "-", k * c)]


@_problem("weeks_to_days")
def _weeks_to_days(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    w, days = r.randint(2, 20), r.randint(2, 6)
    return {"w": w, "days": days}, [step(w, "×", 7), step(w * 7, "+", days)]


@_problem("walking_week", names=1)
def _walking_week(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    a, b = r.randint(2, 20), r.randint(2, 30)
    return {"a": a, "b": b}, [step(a, "×", 5), step(b, "×", 2), step(a * 5, "+", b * 2)]


@_problem("fuel_cost")
def _fuel_cost(r: random.Random) -> tuple[dict[str, int], list[Step]]:
    k, liters, p = r.randint(5, 20), r.randint(2, 25), r.randint(2, 12)
    d = k * liters
    return {"k": k, "d": d, "p": p}, [step(d, "÷", k), step(liters, "×", p)]


# --- splits and generation -------------------------------------------------------------


def canonical_key(type_name: str, params: dict[str, int]) -> str:
    return type_name + ":" + ",".join(f"{k}={params[k]}" for k in sorted(params))


def split_of(key: str, scheme: str = DEFAULT_SCHEME) -> str:
    """The split an underlying problem belongs to: a fixed hash of its canonical key."""
    digest = hashlib.sha256(b"xling-synth-split:" + key.encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64
    return next(name for name, (lo, hi) in _scheme(scheme).items() if lo <= position < hi)


def _scheme(scheme: str) -> dict[str, tuple[float, float]]:
    if scheme not in SPLIT_SCHEMES:
        raise SyntheticError(
            f"unknown split scheme {scheme!r}; use one of {', '.join(SPLIT_SCHEMES)}"
        )
    return SPLIT_SCHEMES[scheme]


def _check_split(split: str, scheme: str = DEFAULT_SCHEME) -> None:
    if split not in _scheme(scheme):
        raise SyntheticError(
            f"unknown split {split!r} in scheme {scheme}; use one of {', '.join(_scheme(scheme))}"
        )


def iter_problems(
    *, seed: int, split: str = "test", dedupe: bool = True, scheme: str = DEFAULT_SCHEME
) -> Iterator[StructuredProblem]:
    """An endless, deterministic stream of `split`'s problems for `seed`.

    Types come in rounds: each round is a seeded permutation of all types, so any n >= the
    number of types covers every type, and a shorter stream is a prefix of a longer one.
    With `dedupe`, no (type, parameters) repeats; a type that finds no new parameters for
    this split in MAX_TRIES draws counts as used up and is skipped from then on (small
    spaces such as weeks_to_days run out first in large train sets).
    """
    _check_split(split, scheme)
    # v2 keeps its historical streams (its benchmarks and organisms stay reproducible).
    tag = "" if scheme == "v2" else f"{scheme}:"
    rng = random.Random(f"xling-synth:{tag}{seed}:{split}")
    seen: set[str] = set()
    exhausted: set[str] = set()
    index = 0
    while True:
        if len(exhausted) == len(PROBLEM_TYPES):
            raise SyntheticError(
                f"every problem type has used up its {split} parameter space (seed {seed})"
            )
        order = sorted(PROBLEM_TYPES)
        rng.shuffle(order)
        for name in order:
            if name in exhausted:
                continue
            ptype = PROBLEM_TYPES[name]
            for _ in range(MAX_TRIES):
                params, steps = ptype.generate(rng)
                key = canonical_key(name, params)
                if split_of(key, scheme) == split and not (dedupe and key in seen):
                    break
            else:
                exhausted.add(name)
                continue
            seen.add(key)
            vocab = dict(
                zip(NAME_SLOTS[: ptype.names], rng.sample(range(N_NAMES), ptype.names), strict=True)
            )
            vocab.update(
                zip(ITEM_SLOTS[: ptype.items], rng.sample(range(N_ITEMS), ptype.items), strict=True)
            )
            yield StructuredProblem(
                id=f"{split}-{tag.replace(':', '-')}{seed}-{index:05d}",
                type=name,
                params=params,
                vocab=vocab,
                steps=tuple(steps),
                answer=steps[-1].result,
                split=split,
            )
            index += 1


def generate_problems(
    n: int, *, seed: int, split: str = "test", scheme: str = DEFAULT_SCHEME
) -> list[StructuredProblem]:
    """`n` distinct problems of `split`, deterministic per seed (a prefix of any larger n)."""
    if n < 0:
        raise SyntheticError(f"n must be >= 0, got {n}")
    stream = iter_problems(seed=seed, split=split, scheme=scheme)
    return [next(stream) for _ in range(n)]
