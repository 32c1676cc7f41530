"""What a study is: the study file (`StudyConfig`), its arms and its tables, all typed.

A study file is TOML (docs/study-format.md): top-level keys, the `[synthetic]`,
`[train_data]`, `[grpo]`, `[sft]`, `[eval]` and `[report]` tables, and `[[arms]]`. Every key
is checked where it is read: a misspelled key at any level fails with one line naming the
closest valid key (`[train_data] shufle_ids` -> "did you mean 'shuffle_ids'?"), including
the keys of the `[grpo]`, `[sft]` and `[eval]` tables, which are checked against the
training and evaluation configs they override.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from xling.analysis.reference import ReferenceRun
from xling.benchmarks.registry import BenchmarkSource
from xling.config import build, check_keys, layers
from xling.errors import XlingError
from xling.languages import PARALLEL_ORDER, parse_langs
from xling.train.common import FINAL_DIR

METHODS = ("grpo", "sft")
SHIPPED_DIR = Path(__file__).resolve().parents[1] / "data" / "studies"


@dataclass(frozen=True)
class SyntheticSpec:
    """The synthetic parallel benchmark generated into <out>/bench: its train split feeds
    the training data and its test split the evaluations. With splits = "v3" and
    n_validation > 0 it also writes <out>/bench/validation, disjoint from test by problem
    content, for choosing designs and recipes before the test split is used."""

    n_train: int = 1000
    n_test: int = 100
    seed: int = 0
    splits: str = "v2"
    n_validation: int = 0
    # Rendered as the organism's world is ([organism] native_digits / arithmetic): a model
    # pretrained on worded steps in native digits is evaluated on them.
    native_digits: bool = False
    arithmetic: str = "shared"
    # The split the study evaluates on: "test" for the study itself, "validation" for the
    # runs that choose designs and recipes or measure their sensitivity (dose-response),
    # so the test split is read once.
    eval_split: str = "test"

    def __post_init__(self) -> None:
        from xling.world.problems import SPLIT_SCHEMES
        from xling.world.render import ARITHMETIC_STYLES

        if self.arithmetic not in ARITHMETIC_STYLES:
            raise XlingError(
                f"synthetic.arithmetic {self.arithmetic!r}: use one of "
                f"{', '.join(ARITHMETIC_STYLES)}"
            )

        if self.splits not in SPLIT_SCHEMES:
            raise XlingError(
                f"synthetic.splits {self.splits!r}: use one of {', '.join(SPLIT_SCHEMES)}"
            )
        if self.n_validation < 0 or (self.n_validation and self.splits == "v2"):
            raise XlingError(
                "synthetic.n_validation needs splits = 'v3' (a validation split disjoint "
                "from test by content) and must be >= 0"
            )
        if self.eval_split not in ("test", "validation"):
            raise XlingError(
                f"synthetic.eval_split {self.eval_split!r}: use 'test' or 'validation'"
            )
        if self.eval_split == "validation" and not self.n_validation:
            raise XlingError("synthetic.eval_split = 'validation' needs n_validation > 0")


@dataclass(frozen=True)
class TrainDataSpec:
    """Where training problems come from, and how many. Given in part (by the study and
    then an arm over it): a field left None takes the default below, and only the fields
    given identify a data set (so runs that differ in nothing given are shared)."""

    bench: str | None = None  # a preset or a loader kind [mgsm]
    kind: str | None = None  # the old spelling of bench
    path: str | None = None  # a local copy (a preset) or the files (a loader kind)
    name: str | None = None
    split: str | None = None
    config: str | None = None  # a datasets config
    question_field: str | None = None
    answer_field: str | None = None
    id_field: str | None = None
    lang_field: str | None = None
    n: int | None = None  # problems per language (per-lang) or rows in all (fixed) [1000]
    budget: str | None = None  # per-lang | fixed [per-lang]
    shuffle_ids: bool | None = None  # the non-parallel control [false]
    solution_field: str | None = None  # worked solutions, kept for SFT [solution]

    def given(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def over(self, extra: TrainDataSpec) -> TrainDataSpec:
        """`extra`'s given fields over this one's."""
        return replace(self, **extra.given())

    def source(self) -> BenchmarkSource:
        return BenchmarkSource(
            bench=self.bench or self.kind or "mgsm",
            data=self.path,
            name=self.name,
            question_field=self.question_field,
            answer_field=self.answer_field,
            id_field=self.id_field,
            lang_field=self.lang_field,
            split=self.split,
            config=self.config,
        )

    @property
    def rows(self) -> int:
        return 1000 if self.n is None else self.n


@dataclass(frozen=True)
class ReportSpec:
    """How each arm's report is made, and what it shows beside the study's own runs."""

    n_boot: int = 2000
    seed: int = 0
    ci: float = 0.95
    mti_gain: str = "relative"
    screenshot: bool = False
    see_also: tuple[str, ...] = ()  # lines under the title (where a larger run is)
    scope: str = ""  # what this study's budget can and cannot show, said first
    reference: tuple[ReferenceRun, ...] = ()  # runs measured elsewhere, tabled beside
    # Finding key (xling.analysis.verdicts.FINDINGS) -> what in this testbed could produce
    # it, shown beside its verdict; "none: <why>" marks a finding it cannot test.
    mechanisms: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from xling.analysis.verdicts import check_mechanisms

        check_mechanisms(self.mechanisms)

    def build_options(self) -> dict[str, Any]:
        """The keyword arguments of `build_report`."""
        options = asdict(self)
        options["see_also"] = self.see_also
        options["references"] = self.reference
        del options["reference"], options["mechanisms"]
        return options


def _check_overrides(table: Mapping[str, Any], cls: type, where: str) -> None:
    """A table of overrides of config class `cls`: its keys must be `cls`'s fields."""
    check_keys(table, [f.name for f in fields(cls)], where)


def _train_config_class(method: str) -> type:
    from xling.train.config import GRPOTrainConfig, SFTTrainConfig

    return GRPOTrainConfig if method == "grpo" else SFTTrainConfig


@dataclass(frozen=True)
class Arm:
    """One line of the study: a training method on a kind of data from a base model.

    The default arms are one per method on the study's own training data. Extra arms are
    the controls: another budget policy, the shuffled-id (non-parallel) data, SFT, or a
    second base model made by an organism stage (`base_stage`, e.g. "instruct")."""

    name: str  # folder name under <out>/ and <out>/report/
    method: str = "grpo"
    train_data: TrainDataSpec = field(default_factory=TrainDataSpec)  # over the study's
    train: dict[str, Any] = field(default_factory=dict)  # over the study's grpo/sft table
    base_stage: str | None = None  # organism preset trained on top of base_model first
    stage_options: dict[str, Any] = field(default_factory=dict)  # over that preset's options
    x_values: tuple[int, ...] | None = None  # default: the study's
    # A model made outside the study to start this arm from instead of base_model (a folder
    # or hub id), e.g. organism v3's instruct model, distilled by `xling train sft`: it is
    # evaluated as this arm's own base run.
    base_model: str | None = None

    @property
    def start(self) -> str | None:
        """The key of the model this arm starts from (None: the study's base model):
        its base stage, or a folder-safe name of its base_model."""
        if self.base_stage is not None:
            return self.base_stage
        if self.base_model is not None:
            return "model-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", self.base_model).strip("-.")[-60:]
        return None

    @property
    def start_label(self) -> str | None:
        """The model this arm starts from as reports name it: its base stage, or the last
        part of its base_model (a folder's name, a hub id's model name; a training's
        `final/` is named by its training's folder); `start` is a key for folders and
        steps, too long to read."""
        if self.base_model is None or self.base_stage is not None:
            return self.start
        parts = [p for p in self.base_model.split("/") if p]
        if len(parts) > 1 and parts[-1] == FINAL_DIR:
            parts.pop()
        return parts[-1] if parts else self.start

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", self.name or ""):
            raise XlingError(f"arm name {self.name!r}: use letters, digits, '.', '_' or '-'")
        if self.method not in METHODS:
            raise XlingError(
                f"arm {self.name}: unknown method {self.method!r}; known: {', '.join(METHODS)}"
            )
        if isinstance(self.train_data, Mapping):
            spec = build(TrainDataSpec, self.train_data, f"arm {self.name}: train_data")
            object.__setattr__(self, "train_data", spec)
        _check_overrides(self.train, _train_config_class(self.method), f"arm {self.name}: train")
        if self.base_stage is not None and self.base_model is not None:
            raise XlingError(f"arm {self.name}: give base_stage or base_model, not both")
        if self.base_model is not None and not self.base_model.strip():
            raise XlingError(f"arm {self.name}: base_model is empty")
        if self.stage_options:
            from xling.organism.config import OrganismConfig

            _check_overrides(self.stage_options, OrganismConfig, f"arm {self.name}: stage_options")


@dataclass(frozen=True)
class StudyConfig:
    name: str = "study"
    base_model: str = ""  # HF hub id or path; "organism" = the checkpoint shipped with xling
    out: str = "runs/study"
    x_values: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7)  # parallel languages added to English
    parallel_order: tuple[str, ...] = PARALLEL_ORDER
    methods: tuple[str, ...] = ("grpo",)  # add "sft" for the paper's SFT-vs-RL comparison
    seeds: tuple[int, ...] = (0,)
    # Generate the synthetic parallel benchmark into <out>/bench and use it for training
    # (train split) and evaluation (test split).
    synthetic: SyntheticSpec | None = None
    train_data: TrainDataSpec = field(default_factory=TrainDataSpec)
    grpo: dict[str, Any] = field(default_factory=dict)  # GRPOTrainConfig overrides
    sft: dict[str, Any] = field(default_factory=dict)  # SFTTrainConfig overrides
    eval: dict[str, Any] = field(default_factory=dict)  # EvalConfig overrides (bench = a preset)
    report: ReportSpec = field(default_factory=ReportSpec)
    # Arms ([[arms]] tables: name, method, train_data, train, base_stage or base_model,
    # x_values); when
    # given they replace `methods`. Runs that two arms would train identically are shared.
    arms: tuple[Arm, ...] = ()
    # Run every training step as a job of its own under this command prefix, e.g.
    # "accelerate launch --config_file configs/accelerate/ddp.yaml --num_processes 2": the
    # step becomes `<launcher> -m xling.cli train <method> --config <train dir>/launch.toml`,
    # so one study step trains on several GPUs while the study itself stays one process.
    launcher: str = ""

    def __post_init__(self) -> None:
        # Tables given as plain data (a test, an older caller) become their specs here.
        for name, cls in (
            ("synthetic", SyntheticSpec),
            ("train_data", TrainDataSpec),
            ("report", ReportSpec),
        ):
            value = getattr(self, name)
            if isinstance(value, Mapping):
                object.__setattr__(self, name, build(cls, value, f"[{name}]"))
        arms = tuple(
            build(Arm, a, f"[[arms]] {a.get('name', '?')}") if isinstance(a, Mapping) else a
            for a in self.arms
        )
        object.__setattr__(self, "arms", arms)
        from xling.evaluate import EvalConfig

        _check_overrides(self.grpo, _train_config_class("grpo"), "[grpo]")
        _check_overrides(self.sft, _train_config_class("sft"), "[sft]")
        _check_overrides(self.eval, EvalConfig, "[eval]")
        parse_langs(self.parallel_order)
        unknown = sorted(set(self.methods) - set(METHODS))
        if unknown:
            raise XlingError(f"unknown method(s) {unknown}; known: {', '.join(METHODS)}")
        arm_list = self.arm_list()
        names = [a.name for a in arm_list]
        if len(set(names)) != len(names):
            raise XlingError(f"arm names must be unique, got {names}")
        stages: dict[str, dict[str, Any]] = {}
        for arm in arm_list:
            if arm.base_stage is None:
                continue
            from xling.organism.config import preset_path

            preset_path(arm.base_stage)  # an unknown preset fails here, not hours later
            if stages.setdefault(arm.base_stage, arm.stage_options) != arm.stage_options:
                raise XlingError(
                    f"arms using base_stage {arm.base_stage!r} must agree on stage_options"
                )
        xs = set(self.x_values).union(*(a.x_values or () for a in arm_list))
        too_big = sorted(x for x in xs if not 0 <= x <= len(self.parallel_order))
        if too_big:
            raise XlingError(
                f"x_values {too_big} out of range: X counts languages added to English and "
                f"parallel_order has {len(self.parallel_order)}"
            )

    def train_langs(self, x: int) -> tuple[str, ...]:
        return ("en", *self.parallel_order[:x])

    def arm_list(self) -> list[Arm]:
        if not self.arms:
            return [Arm(name=m, method=m) for m in self.methods]
        return list(self.arms)


def shipped_study(name: str) -> Path:
    """A study file shipped with xling (src/xling/data/studies/<name>.toml)."""
    path = SHIPPED_DIR / f"{name}.toml"
    if not path.exists():
        known = sorted(p.stem for p in SHIPPED_DIR.glob("*.toml"))
        raise XlingError(f"no shipped study {name!r}; shipped: {', '.join(known)}")
    return path


def load_study_config(path: Path, settings: Sequence[str] = (), **overrides: Any) -> StudyConfig:
    """The study file, then `settings` (`--set section.key=value`), then non-None overrides."""
    data = layers(path, settings, overrides, what="study file")
    cfg = build(StudyConfig, data, str(path))
    # Relative paths in a study file are relative to the file, so studies are portable.
    if cfg.base_model and cfg.base_model != "organism":
        candidate = path.parent / cfg.base_model
        if candidate.exists():
            cfg = replace(cfg, base_model=str(candidate))
    return cfg


def config_json(cfg: StudyConfig) -> dict[str, Any]:
    """The resolved study config as plain data (what `study.config.json` records)."""
    return dataclasses.asdict(cfg)
