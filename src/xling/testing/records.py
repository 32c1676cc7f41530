"""Records for tests: a `Generation` from the few fields a test cares about."""

from __future__ import annotations

from typing import Any

from xling.records import Generation


def generation(
    output: str,
    answer: str = "18",
    *,
    lang: str = "en",
    id: str = "0",
    benchmark: str = "t",
    question: str = "q?",
    **fields: Any,
) -> Generation:
    """A generation of sample 0 whose prompt is its question, unless `fields` say else."""
    return Generation(
        benchmark=benchmark,
        lang=lang,
        id=id,
        sample=fields.pop("sample", 0),
        question=question,
        answer=answer,
        prompt=fields.pop("prompt", question),
        output=output,
        **fields,
    )
