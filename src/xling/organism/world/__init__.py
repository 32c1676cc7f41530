"""A synthetic parallel math benchmark for a tiny "model organism" LM.

Seeded structured problems (problems.py: a few dozen types of multi-step integer
arithmetic word problems) are rendered by per-language templates (langs/<code>.py) in all
registry languages, each with a worked solution ending in \\boxed{answer}. Train and test
never share an underlying (type, parameters) problem.
"""

from xling.organism.world.benchmark import build_benchmark, iter_records
from xling.organism.world.problems import (
    PROBLEM_TYPES,
    SPLITS,
    Step,
    StructuredProblem,
    SyntheticError,
    generate_problems,
    iter_problems,
    split_of,
)
from xling.organism.world.render import (
    RenderedProblem,
    check_templates,
    lang_data,
    render,
    render_parts,
)
from xling.organism.world.vocab import TemplateError

__all__ = [
    "PROBLEM_TYPES",
    "SPLITS",
    "RenderedProblem",
    "Step",
    "StructuredProblem",
    "SyntheticError",
    "TemplateError",
    "build_benchmark",
    "check_templates",
    "generate_problems",
    "iter_problems",
    "iter_records",
    "lang_data",
    "render",
    "render_parts",
    "split_of",
]
