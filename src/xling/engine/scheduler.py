"""Host-side bookkeeping of continuous batching: requests, cache slots, finishing rules.

The engine owns the device work; this module decides which request sits in which slot,
when a request is done (end-of-sequence token, length limit, stop string) and how to keep
the live slots packed at the low end of the cache so decode steps stay small.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SamplingParams:
    """How one request is generated. temperature 0 is greedy; the seed only matters when
    sampling, and fixes the request's samples whatever else is in the batch."""

    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 256
    seed: int = 0
    stop: tuple[str, ...] = ()


@dataclass
class Completion:
    """Generated token ids. They end with the end-of-sequence id when `finish_reason` is
    "stop" and `stop_string` is None; with a stop string they end with the token that
    completed it (the text still contains it: cut it at `stop_string`)."""

    tokens: list[int]
    finish_reason: str  # "stop" | "length"
    stop_string: str | None = None


class StopMatcher:
    """Finds where a growing completion first contains one of some strings, decoding only
    the recent tokens (a character is at most 4 byte-level tokens, hence the look-back)."""

    def __init__(self, tokenizer: Any, stops: Sequence[str]) -> None:
        self.tokenizer = tokenizer
        self.stops = tuple(s for s in stops if s)
        self.lookback = 4 * max((len(s) for s in self.stops), default=0) + 4

    def _text(self, tokens: Sequence[int]) -> str:
        return self.tokenizer.decode(
            list(tokens), skip_special_tokens=True, clean_up_tokenization_spaces=False
        )

    def find(self, tokens: Sequence[int], new_from: int) -> tuple[int, str] | None:
        """(index of the token that completes a stop string, that string), searching only
        the tokens from `new_from` on (earlier ones were searched before), or None."""
        if not self.stops or new_from >= len(tokens):
            return None
        start = max(0, new_from - self.lookback)

        def hit(end: int) -> str | None:
            text = self._text(tokens[start : end + 1])
            return next((s for s in self.stops if s in text), None)

        if hit(len(tokens) - 1) is None:
            return None
        # A prefix that contains a stop string stays a match when it grows: bisect for the
        # shortest one.
        low, high = new_from, len(tokens) - 1
        while low < high:
            middle = (low + high) // 2
            if hit(middle) is None:
                low = middle + 1
            else:
                high = middle
        found = hit(low)
        assert found is not None
        return low, found


@dataclass
class Request:
    index: int  # position in the caller's list
    prompt: list[int]
    params: SamplingParams
    key: int  # the sampling stream (`sampling.seed_key`)
    stopper: StopMatcher | None = None
    tokens: list[int] = field(default_factory=list)
    slot: int = -1
    finish_reason: str | None = None
    stop_string: str | None = None
    admitted: int = -1  # order of taking a slot: the paged cache preempts the newest first

    @property
    def position(self) -> int:
        """Cache position at which the newest token is fed (its keys are not yet cached)."""
        return len(self.prompt) + len(self.tokens) - 1

    @property
    def remaining(self) -> int:
        return self.params.max_new_tokens - len(self.tokens)

    def accept(self, new: Iterable[int], eos: frozenset[int]) -> bool:
        """Append generated tokens up to the first finishing one; True when finished. Tokens
        past that point (a multi-step chunk runs on after a row is done) are dropped."""
        before = len(self.tokens)
        for token in new:
            self.tokens.append(token)
            if token in eos:
                self.finish_reason = "stop"
                break
            if len(self.tokens) >= self.params.max_new_tokens:
                self.finish_reason = "length"
                break
        if self.stopper is not None:
            searchable = len(self.tokens) - (self.finish_reason == "stop")  # not the EOS token
            hit = self.stopper.find(self.tokens[:searchable], before)
            if hit is not None:
                end, self.stop_string = hit
                del self.tokens[end + 1 :]
                self.finish_reason = "stop"
        return self.finish_reason is not None

    def restart(self) -> None:
        """Forget what was generated (preemption): drawn again from its (key, counter)
        stream, the same tokens come back."""
        self.tokens.clear()
        self.slot = -1
        self.finish_reason = self.stop_string = None

    def completion(self) -> Completion:
        assert self.finish_reason is not None
        return Completion(list(self.tokens), self.finish_reason, self.stop_string)


class SlotTable:
    """Which request occupies each cache slot; new requests take the lowest free slots."""

    def __init__(self, slots: int) -> None:
        self.size = slots
        self.free = list(range(slots))  # a heap
        self.active: dict[int, Request] = {}

    def take(self, request: Request) -> int:
        slot = heapq.heappop(self.free)
        request.slot = slot
        self.active[slot] = request
        return slot

    def release(self, slot: int) -> None:
        del self.active[slot]
        heapq.heappush(self.free, slot)

    def high(self) -> int:
        """Rows a decode step must compute: one past the highest live slot."""
        return max(self.active) + 1 if self.active else 0

    def compaction(self, rows: int) -> list[tuple[int, int]]:
        """Moves (src, dst) that bring every live slot below `rows` (>= the live count)."""
        high = sorted(s for s in self.active if s >= rows)
        low = sorted(s for s in self.free if s < rows)
        moves = list(zip(high, low, strict=False))
        for src, dst in moves:
            request = self.active.pop(src)
            request.slot = dst
            self.active[dst] = request
        self.free = [s for s in self.free if s not in {d for _, d in moves}]
        self.free.extend(src for src, _ in moves)
        heapq.heapify(self.free)
        return moves
