"""Build `.whl/`: the wheels a lent GPU machine needs beyond its own image.

The H200 image (Python 3.12, torch, transformers, accelerate, peft, pyarrow, typer, rich)
reaches no package index, so what xling needs beyond it travels as wheels in `carry`,
which holds at most 64 MiB. lingua 1.3.5 is pure Python, so it is the release that runs
there; its wheel holds models for 75 languages (72 MB), and it is rewritten here to keep
only the registry's languages (about 8 MB).

    python bench/gpu_wheels.py            # writes .whl/ (ignored by git)

Then each device call carries `.whl` and starts with
`python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade
--target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD/src`.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

# Versions that run beside the image's packages (huggingface-hub 1.x, pyarrow >= 21).
PINS = [
    "trl==1.16.0",
    "datasets==4.7.0",
    "dill==0.4.0",
    "multiprocess==0.70.18",
    "math-verify==0.9.0",
    "latex2sympy2_extended==1.11.0",
    "antlr4-python3-runtime==4.13.2",
    "pebble==5.2.3",
    "lingua-language-detector==1.3.5",
    "brotli==1.2.0",  # lingua 1.3.5 reads its models as brotli-compressed JSON
    "pydantic==2.14.4",
    "pydantic_core==2.50.5",
    "annotated-types==0.8.0",
    "typing-inspection==0.4.5",
]
PLATFORM = ["--python-version", "3.12", "--implementation", "cp"] + [
    arg
    for tag in ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
    for arg in ("--platform", tag)
]


def registry_codes() -> set[str]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from xling.languages import LANGUAGES

    return set(LANGUAGES)


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def cut_lingua(wheel: Path, keep: set[str]) -> None:
    """Drop every language model but `keep`'s from the wheel, rewriting its RECORD."""
    out = wheel.with_suffix(".cut")
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        record_name = next(n for n in src.namelist() if n.endswith(".dist-info/RECORD"))
        lines = []
        for info in src.infolist():
            parts = info.filename.split("/")
            is_model = parts[:2] == ["lingua", "language-models"] and len(parts) > 3
            if (is_model and parts[2] not in keep) or info.filename == record_name:
                continue
            data = src.read(info)
            dst.writestr(info, data)
            lines.append(_record_line(info.filename, data))
        lines.append(f"{record_name},,")
        dst.writestr(record_name, "\n".join(lines) + "\n")
    out.replace(wheel)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=Path(".whl"))
    args = parser.parse_args()
    args.dest.mkdir(exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--only-binary=:all:",
            *PLATFORM,
            "-d",
            str(args.dest),
            *PINS,
        ],
        check=True,
    )
    (lingua,) = args.dest.glob("lingua_language_detector-1.3.5-*.whl")
    cut_lingua(lingua, registry_codes())
    total = sum(p.stat().st_size for p in args.dest.glob("*.whl"))
    print(f"{len(list(args.dest.glob('*.whl')))} wheels, {total / 2**20:.1f} MiB in {args.dest}")


if __name__ == "__main__":
    main()
