"""`xling study run`: the whole Parallel-Scaling-Law study as one resumable pipeline.

- `config.py`   what a study is: the study file, its arms and tables, typed and checked;
- `pipeline.py` its steps (evaluate, build data, train, report) and the order they run in
  (one process per step when several share a study: `xling.lock`);
- `console.py`  the headline tables printed at the end.
"""

from xling.study.config import (
    METHODS,
    Arm,
    ReportSpec,
    StudyConfig,
    SyntheticSpec,
    TrainDataSpec,
    load_study_config,
    shipped_study,
)
from xling.study.console import headline
from xling.study.pipeline import Slot, Step, Study

__all__ = [
    "METHODS",
    "Arm",
    "ReportSpec",
    "Slot",
    "Step",
    "Study",
    "StudyConfig",
    "SyntheticSpec",
    "TrainDataSpec",
    "headline",
    "load_study_config",
    "shipped_study",
]
