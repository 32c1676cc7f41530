"""A corpus of real Python code for the ParScale grid (`xling parscale corpus`).

The organism's synthetic world is too easy to show the parallel scaling law; the paper's
own code corpus is Stack-V2-Python. This builds the nearest thing that needs no download:
the `*.py` files of an installed environment (or any folders), deduplicated, split into
train / held-out by file, a byte-level BPE tokenizer trained on the train split only, and
both splits tokenized into flat token files that the grid cuts into fixed-length windows.

Layout of <out>/:

    build.json            settings + corpus hash of the build in progress (resume marker)
    tokenizer.json, tokenizer_config.json, ...   the tokenizer (AutoTokenizer loads <out>)
    train.bin, heldout.bin  every file's tokens followed by <|endoftext|>, files in a seeded
                          hash order; dtype in manifest.json (uint16 when the vocab fits)
    files.jsonl           one line per kept file: split, offset into its .bin, token count
    skipped.jsonl         one line per skipped file and the reason
    manifest.json         written last: sources, packages, counts, hashes, settings

Split rule: a file is held out when hash(seed, content sha256) mod 10⁶ < fraction · 10⁶, a
function of the file's own bytes, so adding files never moves a file between splits, and
exact duplicates (same bytes) can never straddle them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import site
import sysconfig
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from xling.chat import ENDOFTEXT, SPECIAL_TOKENS
from xling.errors import XlingError
from xling.jsonl import read_jsonl, write_json_atomic, write_text_atomic

FORMAT = "xling-code-corpus/1"
SITE_PACKAGES = "site-packages"
EOF_TOKEN = ENDOFTEXT
SPLITS = ("train", "heldout")
SKIP_REASONS = ("empty", "not_utf8", "too_large", "duplicate", "unreadable")
_BUCKETS = 1_000_000  # split resolution: fractions down to 1e-6
# What a finished corpus has; manifest first, so a half-removed corpus never looks finished.
_OUTPUTS = (
    "manifest.json",
    "files.jsonl",
    "skipped.jsonl",
    "train.bin",
    "heldout.bin",
    "tokenizer.json",
    "tokenizer_config.json",
)
_CLEARED = (*_OUTPUTS, "special_tokens_map.json", "build.json")
_ENCODE_CHUNK_BYTES = 8 << 20  # text per encode_batch call: rayon gets work, memory stays flat


class CorpusError(XlingError):
    pass


@dataclass(frozen=True)
class CorpusSettings:
    sources: tuple[str, ...]  # "site-packages" and/or folders, as given
    vocab_size: int = 8192
    heldout_fraction: float = 0.02
    seed: int = 0
    max_bytes: int = 1_000_000
    max_files: int | None = None
    min_frequency: int = 2

    def __post_init__(self) -> None:
        if not self.sources:
            raise CorpusError("no sources: give --from site-packages or --from FOLDER")
        if not 0.0 <= self.heldout_fraction < 1.0:
            raise CorpusError(f"--heldout-fraction must be in [0, 1), got {self.heldout_fraction}")
        # 256 byte symbols and the special tokens are always in the vocabulary.
        floor = 256 + len(SPECIAL_TOKENS)
        if not floor < self.vocab_size <= 1 << 31:
            raise CorpusError(f"--vocab-size must be in ({floor}, 2^31], got {self.vocab_size}")
        if self.max_bytes < 1:
            raise CorpusError(f"--max-bytes must be >= 1, got {self.max_bytes}")
        if self.max_files is not None and self.max_files < 1:
            raise CorpusError(f"--max-files must be >= 1, got {self.max_files}")
        if self.min_frequency < 1:
            raise CorpusError(f"min_frequency must be >= 1, got {self.min_frequency}")


@dataclass(frozen=True)
class Package:
    name: str
    version: str | None
    license: str | None
    license_source: str | None  # License-Expression | License | classifier | License (first line)


@dataclass
class SourceFile:
    source: int  # index into the resolved roots
    path: str  # posix path relative to its root (for a site-packages file: path-in-package)
    abspath: str
    sha256: str = ""
    size: int = 0
    package: Package | None = None
    split: str = ""
    order_key: str = ""  # seeded hash: file order inside a split's token file

    @property
    def sort_key(self) -> tuple[int, str]:
        return self.source, self.path


# ----------------------------------------------------------------------------- sources


def resolve_sources(specs: Sequence[str]) -> list[tuple[str, Path]]:
    """(spec, root) for every root: 'site-packages' expands to every site-packages folder of
    the running interpreter. Roots are resolved and deduplicated (a venv's lib64 → lib)."""
    roots: list[tuple[str, Path]] = []
    seen: set[Path] = set()
    for spec in specs:
        if spec == SITE_PACKAGES:
            candidates = [Path(p) for p in site_packages_dirs()]
            if not candidates:
                raise CorpusError("--from site-packages: this interpreter has no site-packages")
        else:
            folder = Path(spec).expanduser()
            if not folder.is_dir():
                raise CorpusError(f"--from {spec}: not a folder")
            candidates = [folder]
        for folder in candidates:
            root = folder.resolve()
            if root not in seen:
                seen.add(root)
                roots.append((spec, root))
    return roots


def site_packages_dirs() -> list[str]:
    dirs = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
    paths = sysconfig.get_paths()
    dirs += [paths["purelib"], paths["platlib"]]
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    return [d for d in dict.fromkeys(dirs) if os.path.isdir(d)]


def list_python_files(roots: Sequence[Path]) -> list[SourceFile]:
    files = []
    for index, root in enumerate(roots):
        for folder, dirnames, filenames in os.walk(root):
            # Sorted walk: the order of duplicates (first one kept) is reproducible.
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                if not name.endswith(".py"):
                    continue
                full = os.path.join(folder, name)
                if not os.path.isfile(full):  # a dangling link
                    continue
                rel = Path(os.path.relpath(full, root)).as_posix()
                files.append(SourceFile(source=index, path=rel, abspath=os.path.normpath(full)))
    return files


def licence_of(metadata: Any) -> tuple[str | None, str | None]:
    """The distribution's licence from its core metadata, with the field it came from."""
    expression = (metadata.get("License-Expression") or "").strip()
    if expression:
        return expression, "License-Expression"
    text = (metadata.get("License") or "").strip()
    # The License field is free text: often a name, sometimes the whole licence.
    if text and text.upper() != "UNKNOWN" and "\n" not in text and len(text) <= 120:
        return text, "License"
    classifiers = [
        c.split("::")[-1].strip()
        for c in metadata.get_all("Classifier") or []
        if c.startswith("License ::")
    ]
    if classifiers:
        return "; ".join(dict.fromkeys(classifiers)), "classifier"
    if text and text.upper() != "UNKNOWN":
        first = next(line.strip() for line in text.splitlines() if line.strip())
        return first[:120], "License (first line)"
    return None, None


def package_map(roots: Sequence[Path]) -> dict[str, Package]:
    """Absolute normalised path → the installed distribution whose RECORD lists it."""
    from importlib.metadata import distributions

    owners: dict[str, Package] = {}
    dists = []
    for root in roots:
        for dist in distributions(path=[str(root)]):
            name = dist.metadata.get("Name")
            if name:
                dists.append((name, dist.metadata.get("Version") or "", dist))
    # Deterministic owner when two distributions claim one file (namespace packages).
    for name, version, dist in sorted(dists, key=lambda d: (d[0].lower(), d[1])):
        licence, field = licence_of(dist.metadata)
        package = Package(name, version or None, licence, field)
        for rel in dist.files or ():
            if rel.suffix == ".py":
                owners.setdefault(os.path.normpath(str(dist.locate_file(rel))), package)
    return owners


def _bucket(seed: int, text: str) -> tuple[str, int]:
    digest = hashlib.sha256(f"xling-corpus:{seed}:{text}".encode()).hexdigest()
    return digest, int(digest[:16], 16) % _BUCKETS


def split_of(sha256: str, seed: int, fraction: float) -> str:
    """held-out iff hash(seed, content) mod 10⁶ < fraction · 10⁶: a function of the file's
    bytes alone, so no other file can move it."""
    return "heldout" if _bucket(seed, sha256)[1] < round(fraction * _BUCKETS) else "train"


def sample_files(files: list[SourceFile], max_files: int | None, seed: int) -> list[SourceFile]:
    """At most `max_files`, the ones of lowest seeded path hash: spread over all packages
    (a prefix of the sorted list would be a few packages starting with 'a')."""
    if max_files is None or len(files) <= max_files:
        return files
    keep = sorted(files, key=lambda f: _bucket(seed, f"{f.source}:{f.path}")[0])[:max_files]
    return sorted(keep, key=lambda f: f.sort_key)


@dataclass
class Scan:
    kept: list[SourceFile]
    skipped: list[tuple[SourceFile, str]]
    candidates: int

    @property
    def skip_counts(self) -> dict[str, int]:
        counts = Counter(reason for _, reason in self.skipped)
        return {reason: counts.get(reason, 0) for reason in SKIP_REASONS}


def scan(roots: Sequence[Path], settings: CorpusSettings, console: Console | None = None) -> Scan:
    """List, read, filter, deduplicate and split the Python files under `roots`."""
    from xling.progress import make_progress

    files = sample_files(list_python_files(roots), settings.max_files, settings.seed)
    owners = package_map(roots)
    kept: list[SourceFile] = []
    skipped: list[tuple[SourceFile, str]] = []
    first_of: dict[str, SourceFile] = {}
    with make_progress(console) as progress:
        task = progress.add_task("read files", total=len(files))
        for f in files:
            progress.advance(task)
            f.package = owners.get(f.abspath)
            try:
                data = Path(f.abspath).read_bytes()
            except OSError:
                skipped.append((f, "unreadable"))
                continue
            f.size = len(data)
            if f.size > settings.max_bytes:
                skipped.append((f, "too_large"))
                continue
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                skipped.append((f, "not_utf8"))
                continue
            # Whitespace-only files (many __init__.py) carry no code to learn.
            if not text.strip():
                skipped.append((f, "empty"))
                continue
            f.sha256 = hashlib.sha256(data).hexdigest()
            if f.sha256 in first_of:
                skipped.append((f, "duplicate"))
                continue
            first_of[f.sha256] = f
            f.order_key = _bucket(settings.seed, f.sha256)[0]
            f.split = split_of(f.sha256, settings.seed, settings.heldout_fraction)
            kept.append(f)
    if not files:
        where = ", ".join(str(r) for r in roots)
        raise CorpusError(f"no Python files (*.py) under {where}")
    if not kept:
        raise CorpusError(f"all {len(files)} Python files were skipped (empty, not UTF-8, ...)")
    return Scan(kept, skipped, len(files))


def corpus_hash(files: Iterable[SourceFile]) -> str:
    """sha256 over the sorted (path-in-package, content sha256, split) lines."""
    lines = sorted(f"{f.path}\t{f.sha256}\t{f.split}\n" for f in files)
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def _read_text(f: SourceFile) -> str:
    data = Path(f.abspath).read_bytes()
    # The tokenizer and the token files must see the bytes that were hashed and split.
    if hashlib.sha256(data).hexdigest() != f.sha256:
        raise CorpusError(f"{f.abspath} changed while the corpus was being built; run again")
    return data.decode("utf-8")


# ----------------------------------------------------------------------------- tokenizer


def train_tokenizer(
    files: Sequence[SourceFile], settings: CorpusSettings, console: Console | None = None
) -> Any:
    """Byte-level BPE (GPT-2 style pre-tokenisation, lossless) on the given files only."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from xling.progress import make_progress

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=settings.vocab_size,
        min_frequency=settings.min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    with make_progress(console) as progress:
        task = progress.add_task("tokenizer: count words", total=len(files))

        def texts() -> Iterator[str]:
            for f in files:
                yield _read_text(f)
                progress.advance(task)

        tokenizer.train_from_iterator(texts(), trainer=trainer, length=len(files))
    return tokenizer


def save_tokenizer(tokenizer: Any, out: Path) -> Any:
    from transformers import PreTrainedTokenizerFast

    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=EOF_TOKEN,
        eos_token=EOF_TOKEN,
        pad_token=EOF_TOKEN,
        unk_token=None,
        additional_special_tokens=[t for t in SPECIAL_TOKENS if t != EOF_TOKEN],
        # Code is not prose: the default clean-up would delete spaces before punctuation.
        clean_up_tokenization_spaces=False,
        model_max_length=1 << 30,
    )
    fast.save_pretrained(out)
    return fast


def token_dtype(vocab_size: int) -> str:
    return "uint16" if vocab_size <= 1 << 16 else "uint32"


def tokenize_split(
    tokenizer: Any,
    files: Sequence[SourceFile],
    path: Path,
    dtype: str,
    progress: Any,
    label: str,
) -> list[int]:
    """Write every file's ids and an end-of-file id to `path`; returns tokens per file."""
    import numpy as np

    eof = tokenizer.token_to_id(EOF_TOKEN)
    # A literal "<|endoftext|>" in a source file (tokenizer code has some) is text: the
    # special ids appear in the token files only as the separators between files.
    tokenizer.encode_special_tokens = True
    counts: list[int] = []
    task = progress.add_task(f"tokenize {label}", total=len(files))
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        start = 0
        while start < len(files):
            chunk, size = [], 0
            while start + len(chunk) < len(files) and (not chunk or size < _ENCODE_CHUNK_BYTES):
                chunk.append(files[start + len(chunk)])
                size += chunk[-1].size
            encode = getattr(tokenizer, "encode_batch_fast", tokenizer.encode_batch)
            encodings = encode([_read_text(f) for f in chunk], add_special_tokens=False)
            for enc in encodings:
                ids = np.asarray(enc.ids, dtype=dtype)
                counts.append(len(ids))
                ids.tofile(fh)
                np.asarray([eof], dtype=dtype).tofile(fh)
            start += len(chunk)
            progress.advance(task, len(chunk))
    os.replace(tmp, path)
    return counts


# ----------------------------------------------------------------------------- build


def _settings_record(settings: CorpusSettings, roots: Sequence[tuple[str, Path]]) -> dict:
    record = dataclasses.asdict(settings)
    record["sources"] = [{"spec": spec, "path": str(root)} for spec, root in roots]
    record["format"] = FORMAT
    return json.loads(json.dumps(record))


def _check_out(out: Path, ours: dict, force: bool) -> dict | None:
    """The folder's build marker when it is ours to continue; refuses another corpus."""
    if out.exists() and not out.is_dir():
        raise CorpusError(f"--out {out}: exists and is not a folder")
    if not out.exists() or not any(out.iterdir()):
        return None
    marker = out / "build.json"
    if not marker.exists():
        if force:
            return None
        raise CorpusError(f"--out {out} is not empty and holds no corpus; use another folder")
    theirs = json.loads(marker.read_text(encoding="utf-8"))
    if theirs.get("settings") != ours and not force:
        raise CorpusError(
            f"--out {out} holds a corpus built from other sources or settings (see {marker}); "
            "use another folder, or --force to replace it"
        )
    return theirs if theirs.get("settings") == ours else None


def _clear(out: Path) -> None:
    for name in _CLEARED:
        (out / name).unlink(missing_ok=True)


def build_corpus(
    settings: CorpusSettings,
    out: Path,
    *,
    force: bool = False,
    console: Console | None = None,
) -> dict[str, Any]:
    """Build (or confirm) the corpus in `out`; returns its manifest."""
    import numpy as np

    from xling import __version__
    from xling.progress import make_progress

    console = console or Console()
    t_start = time.perf_counter()
    roots = resolve_sources(settings.sources)
    ours = _settings_record(settings, roots)
    marker = _check_out(out, ours, force)
    found = scan([root for _, root in roots], settings, console)
    digest = corpus_hash(found.kept)
    manifest_path = out / "manifest.json"
    if marker is not None and manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("corpus_hash") == digest and all(
            (out / name).exists() for name in _OUTPUTS
        ):
            console.print(f"{out}: corpus {digest[:12]} is already built and up to date")
            return manifest
        if manifest.get("corpus_hash") != digest and not force:
            raise CorpusError(
                f"--out {out} holds corpus {str(manifest.get('corpus_hash'))[:12]}, but the "
                f"sources now give {digest[:12]} (files changed); use another folder, or "
                "--force to rebuild"
            )
    resume_tokenizer = (
        marker is not None
        and marker.get("corpus_hash") == digest
        and marker.get("tokenizer_done")
        and (out / "tokenizer.json").exists()
    )
    if not resume_tokenizer:
        _clear(out)
    else:
        (out / "manifest.json").unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    build = {"settings": ours, "corpus_hash": digest, "tokenizer_done": bool(resume_tokenizer)}
    write_json_atomic(out / "build.json", build)
    t_scan = time.perf_counter()

    by_split = {
        split: sorted((f for f in found.kept if f.split == split), key=lambda f: f.order_key)
        for split in SPLITS
    }
    if not by_split["train"]:
        raise CorpusError("the train split is empty: lower --heldout-fraction or add files")
    if resume_tokenizer:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(out / "tokenizer.json"))
        console.print("tokenizer: reused from the interrupted build")
    else:
        tokenizer = train_tokenizer(by_split["train"], settings, console)
        save_tokenizer(tokenizer, out)
        build["tokenizer_done"] = True
        write_json_atomic(out / "build.json", build)
    t_tok = time.perf_counter()

    vocab = tokenizer.get_vocab_size()
    dtype = token_dtype(vocab)
    counts: dict[str, list[int]] = {}
    with make_progress(console) as progress:
        for split in SPLITS:
            counts[split] = tokenize_split(
                tokenizer, by_split[split], out / f"{split}.bin", dtype, progress, split
            )
    t_enc = time.perf_counter()

    lines, per_package = [], {}
    stats = {split: {"files": 0, "bytes": 0, "tokens": 0} for split in SPLITS}
    for split in SPLITS:
        offset = 0
        for f, n in zip(by_split[split], counts[split], strict=True):
            lines.append(
                {
                    "path": f.path,
                    "source": f.abspath,
                    "package": f.package.name if f.package else None,
                    "sha256": f.sha256,
                    "split": split,
                    "bytes": f.size,
                    "offset": offset,
                    "tokens": n,
                }
            )
            offset += n + 1  # the end-of-file token after every file
            stats[split]["files"] += 1
            stats[split]["bytes"] += f.size
            stats[split]["tokens"] += n
            if f.package is not None:
                key = (f.package.name, f.package.version)
                entry = per_package.setdefault(
                    key,
                    {**dataclasses.asdict(f.package), "files": 0, "train": 0, "heldout": 0},
                )
                entry["files"] += 1
                entry[split] += 1
    write_text_atomic(
        out / "files.jsonl", "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    )
    write_text_atomic(
        out / "skipped.jsonl",
        "".join(
            json.dumps({"source": f.abspath, "reason": reason}, ensure_ascii=False) + "\n"
            for f, reason in found.skipped
        ),
    )
    token_files = {
        split: {
            "path": f"{split}.bin",
            "dtype": dtype,
            "length": int(np.memmap(out / f"{split}.bin", dtype=dtype, mode="r").shape[0])
            if stats[split]["files"]
            else 0,
        }
        for split in SPLITS
    }
    unpackaged = sum(1 for f in found.kept if f.package is None)
    manifest = {
        "format": FORMAT,
        "xling_version": __version__,
        "corpus_hash": digest,
        "sources": [
            {
                "spec": spec,
                "path": str(root),
                "files_kept": sum(1 for f in found.kept if f.source == i),
            }
            for i, (spec, root) in enumerate(roots)
        ],
        "settings": {
            "seed": settings.seed,
            "heldout_fraction": settings.heldout_fraction,
            "vocab_size": settings.vocab_size,
            "max_bytes": settings.max_bytes,
            "max_files": settings.max_files,
            "min_frequency": settings.min_frequency,
        },
        "files": {
            "candidates": found.candidates,
            "kept": len(found.kept),
            **{split: stats[split]["files"] for split in SPLITS},
        },
        "skipped": found.skip_counts,
        "bytes": {split: stats[split]["bytes"] for split in SPLITS},
        "tokens": {split: stats[split]["tokens"] for split in SPLITS},
        "token_files": token_files,
        "tokenizer": {
            "vocab_size": vocab,
            "requested_vocab_size": settings.vocab_size,
            "eof_token": EOF_TOKEN,
            "eof_id": tokenizer.token_to_id(EOF_TOKEN),
            "special_tokens": list(SPECIAL_TOKENS),
            "bytes_per_token": round(stats["train"]["bytes"] / max(1, stats["train"]["tokens"]), 4),
        },
        "packages": sorted(
            per_package.values(), key=lambda p: (p["name"].lower(), p["version"] or "")
        ),
        "unpackaged_files": unpackaged,
        "seconds": {
            "scan": round(t_scan - t_start, 2),
            "tokenizer": round(t_tok - t_scan, 2),
            "tokenize": round(t_enc - t_tok, 2),
            "total": round(time.perf_counter() - t_start, 2),
        },
    }
    write_json_atomic(manifest_path, manifest)
    return manifest


# ----------------------------------------------------------------------------- reading


@dataclass
class CodeCorpus:
    """A built corpus folder: its manifest, token files and tokenizer."""

    folder: Path
    manifest: dict[str, Any]

    @classmethod
    def load(cls, folder: str | Path) -> CodeCorpus:
        folder = Path(folder)
        path = folder / "manifest.json"
        if not path.exists():
            raise CorpusError(f"{folder}: no manifest.json (not a finished corpus)")
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT:
            raise CorpusError(f"{folder}: format {manifest.get('format')!r}, expected {FORMAT}")
        return cls(folder, manifest)

    def tokens(self, split: str) -> Any:
        """The split's flat token array (read-only memmap; empty when the split is)."""
        import numpy as np

        if split not in SPLITS:
            raise CorpusError(f"split must be one of {SPLITS}, got {split!r}")
        info = self.manifest["token_files"][split]
        if info["length"] == 0:
            return np.zeros(0, dtype=info["dtype"])
        return np.memmap(self.folder / info["path"], dtype=info["dtype"], mode="r")

    def files(self) -> Iterator[dict[str, Any]]:
        return read_jsonl(self.folder / "files.jsonl")

    def tokenizer(self) -> Any:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(self.folder)


def n_windows(n_tokens: int, seq_len: int) -> int:
    return n_tokens // seq_len


def iter_batches(
    tokens: Any,
    *,
    seq_len: int,
    batch_size: int,
    seed: int = 0,
    shuffle: bool = True,
) -> Iterator[tuple[Any, Any]]:
    """(input_ids, labels), each int64 (batch_size, seq_len): the token array cut into
    non-overlapping windows (the tail shorter than seq_len is dropped), in a seeded order,
    full batches only. labels = input_ids: HF causal LMs (and `heldout_nll`) shift them.
    Windows run across file boundaries; the end-of-file token marks them."""
    import numpy as np
    import torch

    if seq_len < 2 or batch_size < 1:
        raise CorpusError(f"need seq_len >= 2 and batch_size >= 1, got {seq_len}, {batch_size}")
    count = n_windows(len(tokens), seq_len)
    order = np.random.default_rng(seed).permutation(count) if shuffle else np.arange(count)
    for start in range(0, count - batch_size + 1, batch_size):
        rows = np.stack(
            [
                np.asarray(tokens[w * seq_len : (w + 1) * seq_len])
                for w in order[start : start + batch_size]
            ]
        ).astype(np.int64)
        ids = torch.from_numpy(rows)
        yield ids, ids.clone()


def token_batches(
    corpus: CodeCorpus | str | Path,
    split: str,
    *,
    seq_len: int,
    batch_size: int,
    n_batches: int | None = None,
    seed: int = 0,
    shuffle: bool = True,
) -> Any:
    """The first `n_batches` (all when None) of `iter_batches` as a `TokenBatches`, the
    in-memory form `train_steps` and `heldout_nll` read (int32, no padding, every label a
    loss token)."""
    import torch

    from xling.parscale.training import TokenBatches

    if not isinstance(corpus, CodeCorpus):
        corpus = CodeCorpus.load(corpus)
    tokens = corpus.tokens(split)
    available = n_windows(len(tokens), seq_len) // max(1, batch_size)
    if n_batches is not None and n_batches > available:
        raise CorpusError(
            f"{split}: {n_batches} batches of {batch_size} × {seq_len} asked, {available} "
            f"available ({len(tokens):,} tokens)"
        )
    inputs, labels = [], []
    for ids, lab in iter_batches(
        tokens, seq_len=seq_len, batch_size=batch_size, seed=seed, shuffle=shuffle
    ):
        if n_batches is not None and len(inputs) == n_batches:
            break
        inputs.append(ids.to(torch.int32))
        labels.append(lab.to(torch.int32))
    return TokenBatches(inputs, labels)
