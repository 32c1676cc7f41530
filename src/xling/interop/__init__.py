"""Other evaluation tools' results in and out of xling's run format (docs/interop.md).

`import_run` reads lm-evaluation-harness samples, lighteval details or PolyMath's inference
output into an xling run directory, re-scored by xling beside the tool's own verdicts;
`export_lm_eval` writes an xling run as lm-evaluation-harness output files.
"""

from xling.interop.export import FORMATS, export_lm_eval
from xling.interop.importer import ImportOptions, import_run
from xling.interop.samples import TOOLS, SourceRun, SourceSample, TaskNames
from xling.interop.writer import ImportSummary, train_metadata

__all__ = [
    "FORMATS",
    "TOOLS",
    "ImportOptions",
    "ImportSummary",
    "SourceRun",
    "SourceSample",
    "TaskNames",
    "export_lm_eval",
    "import_run",
    "train_metadata",
]
