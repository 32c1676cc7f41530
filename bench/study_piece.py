"""Run a study in pieces on a machine whose files do not outlive one call (the lent H200):
each piece starts from a small state archive, runs the study for a while with several
processes on one GPU, and packs what it made for the next piece.

    python bench/study_piece.py run STUDY.toml --state S.tar.xz --minutes 8 --procs 6 --out DIR
        # on the GPU: unpack S (if present), run, write DIR/new.tar.xz (the piece's
        # new files, no weights) and DIR/state.tar.xz (what the next piece needs)
    python bench/study_piece.py run A.toml B.toml [--state SA --state SB] ... --out DIR
        # several studies, in order: B takes the processes A has no ready step for;
        # DIR/A/{new,state}.tar.xz and DIR/B/{new,state}.tar.xz
    python bench/study_piece.py merge STUDY.toml NEW.tar.xz [...]
        # here: add pieces' files to the local study folder
    python bench/study_piece.py state STUDY.toml S.tar.xz
        # here: the state archive of the local study folder
    python bench/study_piece.py keep STUDY.toml R.tar.xz
        # here: the results archive (a few MB) that `merge` turns back into a study folder
        # whose reports can be written, kept in git between sittings

The state is the step markers, the training data and the base evaluations: enough for the
study to skip what is done. Trained weights never travel (a 3.4M-parameter organism is
14 MB in fp32, and a study has hundreds): a run trained but not yet evaluated when a piece
ends loses its training and is trained again, its partial evaluation removed with it, so
no evaluation mixes two trainings.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from xling import lock
from xling.study import Study, load_study_config
from xling.train.common import FINAL_DIR

# Never packed: the benchmark (rebuilt in seconds, byte for byte) and model weights.
SKIPPED_PARTS = {"bench", FINAL_DIR, "stages"}


def _skipped(relative: Path) -> bool:
    return any(p in SKIPPED_PARTS or p.startswith("checkpoint") for p in relative.parts) or (
        relative.suffix == ".lock"
    )


def _files(root: Path, newer_than: float = 0.0) -> list[Path]:
    found = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and not _skipped(relative) and path.stat().st_mtime >= newer_than:
            found.append(relative)
    return found


def _pack(root: Path, files: list[Path], archive: Path) -> None:
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:xz") as tar:
        for relative in files:
            tar.add(root / relative, arcname=str(relative))


def _unpack(archive: Path, root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:xz") as tar:
        tar.extractall(root, filter="data")


def forget_unevaluated_training(study: Study) -> list[str]:
    """Drop the markers (and folders) of runs trained but not evaluated whose weights are
    gone, so the study trains them again instead of failing to evaluate them."""
    dropped = []
    for slot in study.slots():
        if slot.owner != slot.arm.name:
            continue
        train, evaluate = study.train_step(slot), study.eval_step(slot)
        if study.marker(evaluate).exists() or not study.marker(train).exists():
            continue
        if (study.train_dir(slot) / FINAL_DIR).is_dir():
            continue
        study.marker(train).unlink()
        for folder in (study.train_dir(slot), study.run_dir(slot)):
            subprocess.run(["rm", "-rf", str(folder)], check=True)
        dropped.append(train)
    return dropped


def forget_missing_data(study: Study) -> list[str]:
    """Drop the markers of data steps whose files are gone (a results archive leaves the
    training data out), so a study taken up again from one rebuilds them, byte for byte,
    before the trainings still to run read them."""
    dropped = []
    for slot in study.slots():
        step = f"data:{slot.data_label}{study.run_name(slot.x, slot.seed)}"
        if study.marker(step).exists() and not study.data_path(slot).exists():
            study.marker(step).unlink()
            dropped.append(step)
    return dropped


def forget_what_did_not_travel(study: Study) -> None:
    """Drop the markers of steps whose outputs no archive carries (the benchmark, weights
    of runs not yet evaluated, training data), so the study, here or on the GPU, makes
    them again rather than failing on their absence."""
    if not (study.out / "bench").is_dir():
        study.marker("bench").unlink(missing_ok=True)  # rebuilt, identical, in seconds
    dropped = forget_unevaluated_training(study)
    if dropped:
        print(f"training again (weights did not travel): {', '.join(dropped)}")
    rebuilt = forget_missing_data(study)
    if rebuilt:
        print(f"building the training data again: {', '.join(rebuilt)}")


def state_files(study: Study) -> list[Path]:
    root = study.out
    wanted = [root / "steps", root / "data", root / "study.config.json"]
    wanted += [p for p in root.glob("base*") if p.is_dir()]
    files = []
    for top in wanted:
        paths = [top] if top.is_file() else sorted(top.rglob("*")) if top.is_dir() else []
        for path in paths:
            relative = path.relative_to(root)
            if path.is_file() and not _skipped(relative):
                files.append(relative)
    return files


MAX_FAILURES = 3


class Piece:
    """One study's part of a piece: its work steps and the process launches it got."""

    def __init__(self, study_file: str, state: str | None) -> None:
        self.file = study_file
        self.study = Study(load_study_config(Path(study_file)))
        root = self.study.out
        if state and Path(state).is_file():
            _unpack(Path(state), root)
        forget_what_did_not_travel(self.study)
        steps = self.study.steps()
        # Reports and the summary need every run of the study, which lives together only
        # after the pieces are merged: this process holds their locks, so the study's
        # processes leave them.
        self.final = [s.name for s in steps if s.name.startswith(("report:", "summary"))]
        for name in self.final:
            lock.take(self._lock(name), "held by bench/study_piece.py")
        self.work = [s for s in steps if s.name not in self.final]
        self.launches: list[float] = []
        self.failures = 0  # its processes that exited with an error

    def failed(self) -> bool:
        """Three of its processes failed: a step that fails again and again (see the
        logs) is not retried for the rest of the piece."""
        return self.failures >= MAX_FAILURES

    def _lock(self, name: str) -> Path:
        return self.study.marker(name).with_suffix(".lock")

    def done(self) -> bool:
        return all(self.study.marker(s.name).exists() for s in self.work)

    def outlook(self) -> tuple[int, int, int]:
        """(free ready, running, soon): work steps that could start now (what they need
        done, no live holder), steps a live process runs, and steps that wait only on
        running ones."""
        marker = self.study.marker
        pending = [s for s in self.work if not marker(s.name).exists()]
        running = {s.name for s in pending if lock.is_held(self._lock(s.name))}
        free = soon = 0
        for s in pending:
            if s.name in running:
                continue
            if all(marker(n).exists() for n in s.needs):
                free += 1
            elif all(marker(n).exists() or n in running for n in s.needs):
                soon += 1
        return free, len(running), soon

    def claim(self, now: float) -> str:
        """What this study does with a free process slot: "take" it (more free ready steps
        than processes launched for it in the last 15 s, which take a few seconds to take
        their step), "hold" it (such a process has yet to show what it took, or more steps
        wait on running ones than the processes running them will take on: the start of a
        study, while one step gates many), or "pass" it to the next study."""
        free, running, soon = self.outlook()
        recent = sum(1 for t in self.launches if now - t < 15)
        if free > recent:
            return "take"
        return "hold" if recent or soon > running else "pass"

    def finish(self, out: Path, started: float) -> None:
        for name in self.final:
            lock.release(self._lock(name))
        forget_unevaluated_training(self.study)
        root = self.study.out
        _pack(root, _files(root, newer_than=started), out / "new.tar.xz")
        _pack(root, state_files(self.study), out / "state.tar.xz")
        done = len(list((root / "steps").glob("*.json")))
        print(f"piece done: {done}/{len(self.study.steps())} steps of {self.study.cfg.name}")


def run_piece(args: argparse.Namespace) -> int:
    """Run the studies in order on `--procs` process slots until they are done or the time
    is up. Each process runs `xling study run --no-wait`: it takes ready steps and leaves
    when none is left for it. Its slot goes to the first study that claims it (see
    `Piece.claim`), so a later study starts only in the tail of the earlier ones (a few
    long steps, the rest waiting on them), which then overlaps it instead of idling the
    GPU, and never while an earlier study's first step gates the rest."""
    states = args.state or []
    pieces = [Piece(f, states[i] if i < len(states) else None) for i, f in enumerate(args.studies)]
    started = time.time() - 1
    deadline = started + 60 * args.minutes
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    out = Path(args.out)
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    slots: list[tuple[subprocess.Popen[bytes], Piece, Path] | None] = [None] * args.procs
    launched = 0
    while time.time() < deadline and not all(p.done() or p.failed() for p in pieces):
        for index, held in enumerate(slots):
            if held is not None:
                proc, owner, log = held
                if proc.poll() is None:
                    continue
                if proc.returncode != 0:
                    owner.failures += 1
                    if owner.failed():
                        print(f"{owner.file}: {owner.failures} processes failed; giving up on it")
                        # The last failure's own words, where a device call's output shows it.
                        tail = log.read_text(errors="replace").splitlines()[-8:]
                        print("\n".join(f"  {line}" for line in tail))
            now = time.time()
            slots[index] = None
            piece = None
            for candidate in (p for p in pieces if not (p.done() or p.failed())):
                claim = candidate.claim(now)
                if claim != "pass":
                    piece = candidate if claim == "take" else None
                    break
            if piece is None:
                continue
            stem = Path(piece.file).stem
            log = logs / f"{launched:03d}-slot{index}-{stem}.log"
            handle = log.open("w")
            command = [sys.executable, "-m", "xling.cli", "study", "run", piece.file]
            with handle:  # the child has its own copy
                proc = subprocess.Popen(
                    [*command, "--no-wait"], stdout=handle, stderr=subprocess.STDOUT, env=env
                )
            slots[index] = (proc, piece, log)
            piece.launches.append(now)
            launched += 1
        time.sleep(2)
    live = [held[0] for held in slots if held is not None]
    for proc in live:
        if proc.poll() is None:
            proc.terminate()
    for proc in live:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    for piece in pieces:
        # One study: its archives in --out, as before; several: one folder each.
        piece.finish(out if len(pieces) == 1 else out / Path(piece.file).stem, started)
    # Logs travel inside one archive: a call brings back at most 8 files.
    _pack(out, sorted(p.relative_to(out) for p in logs.iterdir()), out / "logs.tar.xz")
    subprocess.run(["rm", "-rf", str(logs)], check=True)
    return 1 if any(p.failed() for p in pieces) else 0


def merge(args: argparse.Namespace) -> int:
    study = Study(load_study_config(Path(args.study)))
    for archive in args.archives:
        _unpack(Path(archive), study.out)
    # So that `xling study run` can finish the study on this machine too.
    forget_what_did_not_travel(study)
    return 0


def write_state(args: argparse.Namespace) -> int:
    study = Study(load_study_config(Path(args.study)))
    _pack(study.out, state_files(study), Path(args.archive))
    return 0


# What the results archive leaves out: generations (the scores hold every verdict the
# reports read), the training data and the benchmark (rebuilt byte for byte from the
# study file), training-curve pictures, and the reports with their step markers
# (`xling study run` writes them again from the scores in minutes; their HTML embeds
# pictures that do not compress, 2.6 MB an arm). What is left compresses ~100x.
KEEP_SKIPPED_NAMES = {"generations.jsonl", "training_curves.png"}
KEEP_SKIPPED_TOP = {"data", "bench", "report"}
KEEP_SKIPPED_MARKERS = ("report_", "summary")


def _kept(relative: Path) -> bool:
    if relative.name in KEEP_SKIPPED_NAMES or relative.parts[0] in KEEP_SKIPPED_TOP:
        return False
    return not (relative.parts[0] == "steps" and relative.name.startswith(KEEP_SKIPPED_MARKERS))


def keep_results(root: Path, archive: Path) -> list[Path]:
    files = [f for f in _files(root) if _kept(f)]
    _pack(root, files, archive)
    return files


def keep(args: argparse.Namespace) -> int:
    root = Study(load_study_config(Path(args.study))).out
    files = keep_results(root, Path(args.archive))
    size = Path(args.archive).stat().st_size / 2**20
    print(f"{len(files)} files of {root} in {args.archive} ({size:.1f} MiB)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("studies", nargs="+", metavar="study")
    run.add_argument("--state", action="append", help="A state archive per study, in their order.")
    run.add_argument("--minutes", type=float, required=True)
    run.add_argument("--procs", type=int, default=6)
    run.add_argument("--out", required=True)
    run.set_defaults(func=run_piece)
    join = sub.add_parser("merge")
    join.add_argument("study")
    join.add_argument("archives", nargs="+")
    join.set_defaults(func=merge)
    state = sub.add_parser("state")
    state.add_argument("study")
    state.add_argument("archive")
    state.set_defaults(func=write_state)
    results = sub.add_parser("keep")
    results.add_argument("study")
    results.add_argument("archive")
    results.set_defaults(func=keep)
    args = parser.parse_args()
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
