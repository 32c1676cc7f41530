"""Training: parallel multilingual data, GRPO with the composite reward, and the SFT baseline.

    xling data parallel …      data.py      the same problems in English + X languages
    xling train grpo …         grpo.py      TRL GRPOTrainer + rewards.py (evaluation scorer)
    xling train sft …          sft.py       TRL SFTTrainer on worked / rejection-sampled solutions

Configs (config.py) are frozen dataclasses filled from defaults < TOML < flags; logs and
curves come from callbacks.py. See docs/training.md for the exact commands.
"""
