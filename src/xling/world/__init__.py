"""The synthetic parallel world: the math benchmark the "model organism" LM is pretrained
on and evaluated with.

Seeded structured problems (problems.py: a few dozen types of multi-step integer
arithmetic word problems) are rendered by per-language templates (langs/<code>.toml, data
read by langs/__init__.py) in all registry languages, each with a worked solution ending
in \\boxed{answer}. Train and test (and, in the v3 split scheme, validation) never share an
underlying (type, parameters) problem.
It sits low in the layers (docs/architecture.md): the benchmark loaders read it, the
organism trains on it, and it imports nothing but the language registry.
"""

from xling.world.benchmark import build_benchmark, iter_records
from xling.world.problems import (
    PROBLEM_TYPES,
    SPLIT_SCHEMES,
    SPLITS,
    Step,
    StructuredProblem,
    SyntheticError,
    generate_problems,
    iter_problems,
    split_of,
)
from xling.world.render import (
    RenderedProblem,
    check_templates,
    lang_data,
    render,
    render_parts,
)
from xling.world.vocab import TemplateError

__all__ = [
    "PROBLEM_TYPES",
    "SPLITS",
    "SPLIT_SCHEMES",
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
