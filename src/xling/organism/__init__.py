"""The model organism: a tiny Qwen2 LM pretrained English-centric on the synthetic world.

One file per concept:

* `world/`     the world it learns from: seeded structured word problems rendered in all
  registry languages, with strict train/test separation (also the `synth` benchmark);
* `config.py`  what determines an organism (`OrganismConfig`) and the presets in presets/;
* `corpus.py`  which problems, in which language, written how (careful vs hasty solutions,
  English-centric drift: the behaviours RL can select);
* `model.py`   tokenizer and Qwen2 model;
* `pretrain.py` the resumable pretraining loop and the model directory it writes;
* `probe.py`   a quick accuracy check and the per-language behaviour breakdown of an eval run;
* `commands.py` the `xling organism` CLI.
"""

from xling.organism.config import (
    DEFAULT_PRESET,
    OrganismConfig,
    OrganismError,
    load_organism_config,
    preset_names,
    preset_path,
)
from xling.organism.corpus import (
    IGNORE_INDEX,
    TRANSLATE_PROMPT,
    Example,
    StepBatches,
    behaviour_counts,
    chat_example,
    encode_examples,
    shares,
    step_examples,
    tokenizer_corpus,
)
from xling.organism.model import build_model, build_tokenizer, bundled_organism, count_params
from xling.organism.pretrain import (
    CHECKPOINT_DIR,
    CHECKPOINT_FILE,
    LOG_FILE,
    META_FILE,
    PretrainResult,
    pretrain,
)
from xling.organism.probe import behaviours, quick_eval

__all__ = [
    "CHECKPOINT_DIR",
    "CHECKPOINT_FILE",
    "DEFAULT_PRESET",
    "IGNORE_INDEX",
    "LOG_FILE",
    "META_FILE",
    "TRANSLATE_PROMPT",
    "Example",
    "OrganismConfig",
    "OrganismError",
    "PretrainResult",
    "StepBatches",
    "behaviour_counts",
    "behaviours",
    "build_model",
    "build_tokenizer",
    "bundled_organism",
    "chat_example",
    "count_params",
    "encode_examples",
    "load_organism_config",
    "preset_names",
    "preset_path",
    "pretrain",
    "quick_eval",
    "shares",
    "step_examples",
    "tokenizer_corpus",
]
