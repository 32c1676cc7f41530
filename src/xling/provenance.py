"""env.json: what made a run, so two results can be traced to their causes.

Every evaluation run directory and training folder gets an `env.json`: xling's version
and git commit (when it runs from a checkout), the versions of the packages that decide
results, the command line, the device, the model (hub revision and commit, or a hash of a
local folder's weights) and a fingerprint of the data. A resumed run keeps the earlier
invocations under "previous", newest last, so a run continued under another version says
so.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from xling.jsonl import write_json_atomic

ENV_JSON = "env.json"

# The distributions whose versions can change a result (generation, scoring, training).
PACKAGES = (
    "xling",
    "torch",
    "transformers",
    "tokenizers",
    "trl",
    "accelerate",
    "peft",
    "datasets",
    "vllm",
    "math-verify",
    "latex2sympy2_extended",
    "sympy",
    "lingua-language-detector",
    "numpy",
    "scipy",
)
# Local weights up to this size are hashed in full (about a second per GB); larger folders
# are fingerprinted by file names, sizes and modification times, and say so.
FULL_HASH_LIMIT = 4 * 1024**3
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".gguf")
_CHUNK = 1 << 20


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution (None: not installed)."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_state(path: Path | None = None) -> dict[str, Any] | None:
    """{commit, dirty} of the git checkout xling runs from; None when it is installed from
    a wheel (or git is missing)."""
    where = path or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(status.strip())}


def device_info() -> dict[str, Any]:
    """The accelerators (or the CPU) a run used."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return info
    if torch.cuda.is_available():
        info["cuda"] = torch.version.cuda
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    else:
        info["gpus"] = []
    return info


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def weights_fingerprint(folder: Path) -> dict[str, Any]:
    """A local model folder's weight files: sha256 over their contents when they are small
    enough to read at start-up, else over (name, size, modification time)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES))
    total = sum(p.stat().st_size for p in files)
    digest = hashlib.sha256()
    full = total <= FULL_HASH_LIMIT
    for p in files:
        digest.update(str(p.relative_to(folder)).encode())
        if full:
            digest.update(bytes.fromhex(file_sha256(p)))
        else:
            stat = p.stat()
            digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    return {
        "weights_sha256" if full else "weights_stat_sha256": digest.hexdigest(),
        "weight_files": len(files),
        "weight_bytes": total,
    }


def model_info(model: str, revision: str | None = None) -> dict[str, Any]:
    """A model as it was found: a local folder's weights fingerprint, or a hub id with the
    requested revision and, when the hub cache holds it, the commit it resolved to."""
    info: dict[str, Any] = {"name": model, "revision": revision}
    path = Path(model)
    if path.is_dir():
        info["path"] = str(path.resolve())
        info.update(weights_fingerprint(path))
        return info
    commit = _cached_hub_commit(model, revision or "main")
    if commit is not None:
        info["commit"] = commit
    return info


def _cached_hub_commit(repo_id: str, revision: str) -> str | None:
    """The commit a hub revision points at in the local cache (no network)."""
    try:
        from huggingface_hub.constants import HF_HUB_CACHE
    except ImportError:  # pragma: no cover - a transformers dependency
        return None
    ref = Path(HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}" / "refs" / revision
    try:
        return ref.read_text(encoding="utf-8").strip() or None
    except OSError:
        return revision if len(revision) == 40 else None


def records_fingerprint(records: Iterable[Mapping[str, Any]]) -> str:
    """sha256 over records as canonical JSON lines: the same data gives the same hash,
    whatever file or order it was read from is not part of it (order is)."""
    digest = hashlib.sha256()
    for record in records:
        line = json.dumps(record, sort_keys=True, ensure_ascii=False, default=str)
        digest.update(line.encode("utf-8") + b"\n")
    return digest.hexdigest()


def environment(
    *,
    model: Mapping[str, Any] | None = None,
    data: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """This invocation's provenance record."""
    record: dict[str, Any] = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": shlex.join(sys.argv),
        "cwd": os.getcwd(),
        "python": sys.version.split()[0],
        "packages": package_versions(),
        "git": git_state(),
        "device": device_info(),
        "model": dict(model) if model is not None else None,
        "data": dict(data) if data is not None else None,
    }
    record.update(extra or {})
    return record


def write_env_json(folder: Path, record: Mapping[str, Any]) -> Path:
    """Write `record` as folder/env.json, keeping the invocations already there (a resumed
    run) under "previous"."""
    path = Path(folder) / ENV_JSON
    previous: list[Any] = []
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        old = None
    if isinstance(old, dict):
        previous = [*old.pop("previous", []), old]
    write_json_atomic(path, {**record, "previous": previous})
    return path
