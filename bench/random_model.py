"""Write a random-weight model folder of a real model's shape (xling.models.random_init).

    python bench/random_model.py --shape qwen2.5-1.5b --out /tmp/qwen-1.5b-random
    .venv/bin/python bench/random_model.py --shape tiny --out /tmp/tiny-random   # CPU, 5 s

The folder (config.json, bf16 safetensors, generation_config.json, a tokenizer of the
shape's vocabulary size with the organism's chat template, random_model.json) is a model
path for `xling eval`, `xling train grpo` and `xling study run`. Weights are initialized on
the GPU when there is one (seconds for billions of parameters). Prints what was written.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from xling.models.random_init import write_random_model
from xling.models.shapes import NAMED_SHAPES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="qwen2.5-1.5b", choices=sorted(NAMED_SHAPES))
    parser.add_argument("--out", type=Path, required=True, help="the model folder to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", default="bfloat16", choices=("bfloat16", "float32"))
    parser.add_argument(
        "--device", help="where to initialize: cuda | cpu [default: cuda if present]"
    )
    args = parser.parse_args()
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    info = write_random_model(args.out, args.shape, seed=args.seed, device=device, dtype=args.dtype)
    print(json.dumps(info, indent=2))


if __name__ == "__main__":
    main()
