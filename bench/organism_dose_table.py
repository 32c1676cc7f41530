"""The dose-response table of docs/gpu/organism-v3/dose.toml: for each GRPO budget (arm
`s<steps>-lr<lr>` and its `-shuffled` control), the X = 0 and X = 7 cells' gains and MTIs
and the parallel − shuffled MTI difference at X = 7, all from one paired bootstrap.

    python bench/organism_dose_table.py docs/gpu/organism-v3/dose.toml OUT_DIR

Writes OUT_DIR/dose.csv and OUT_DIR/dose.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

from xling.analysis.bootstrap import summarize
from xling.analysis.verdicts import build_cell_cube, cell_rows
from xling.study import Study, load_study_config
from xling.tables import write_csv


def _ci(value, lo, hi, digits=2) -> str:
    if value is None:
        return "–"
    if lo is None or hi is None:
        return f"{value:+.{digits}f}"
    return f"{value:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[-3].strip(), file=sys.stderr)
        return 2
    cfg = load_study_config(Path(argv[1]))
    study = Study(cfg)
    report = cfg.report
    # Only evaluated runs: a grid cut short by the end of a sitting is tabled as far as it
    # got, its missing cells shown as "–" and named on stderr.
    # run_table() lists one run per slot, in the order of slots().
    runs = study.run_table()
    evaluated = [
        r
        for slot, r in zip(study.slots(), runs, strict=True)
        if study.marker(study.eval_step(slot)).is_file()
    ]
    for r in runs:
        if r not in evaluated:
            print(f"not evaluated yet: {r.arm} X={r.x} seed {r.seed}", file=sys.stderr)
    cc = build_cell_cube(evaluated, n_boot=report.n_boot, seed=report.seed)
    cells = {(r["arm"], r["x"]): r for r in cell_rows(cc, ci=report.ci)}
    rows = []
    for arm in (a.name for a in study.arms if not a.name.endswith("-shuffled")):
        steps, lr = arm.removeprefix("s").split("-lr")
        row = {"arm": arm, "steps": int(steps), "lr": float(lr)}
        for x in (0, 7):
            cell = cells.get((arm, x), {})
            for key in ("seen_gain", "unseen_gain", "mti", "mti_abs"):
                for suffix in ("", "_lo", "_hi"):
                    row[f"x{x}_{key}{suffix}"] = cell.get(key + suffix)
        shuffled = f"{arm}-shuffled"
        if (arm, 7) in cc.cells and (shuffled, 7) in cc.cells:
            a, why_a = cc.mti(arm, 7, report.mti_gain)
            b, why_b = cc.mti(shuffled, 7, report.mti_gain)
            d = a - b
            e = summarize(float(d[0]), d[1:], report.ci, undefined=why_a or why_b)
            row |= {"x7_par_minus_shuf": e.value, "x7_par_minus_shuf_lo": e.lo}
            row["x7_par_minus_shuf_hi"] = e.hi
        rows.append(row)
    out = Path(argv[2])
    write_csv(rows, out / "dose.csv")
    lines = [
        "| steps | lr | X=0 seen gain | X=0 unseen gain | X=0 MTI | X=7 seen gain | "
        "X=7 unseen gain | X=7 MTI | X=7 parallel − shuffled MTI |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['steps']} | {r['lr']:g} | "
            f"{_ci(r['x0_seen_gain'], r['x0_seen_gain_lo'], r['x0_seen_gain_hi'], 1)} | "
            f"{_ci(r['x0_unseen_gain'], r['x0_unseen_gain_lo'], r['x0_unseen_gain_hi'], 1)} | "
            f"{_ci(r['x0_mti'], r['x0_mti_lo'], r['x0_mti_hi'])} | "
            f"{_ci(r['x7_seen_gain'], r['x7_seen_gain_lo'], r['x7_seen_gain_hi'], 1)} | "
            f"{_ci(r['x7_unseen_gain'], r['x7_unseen_gain_lo'], r['x7_unseen_gain_hi'], 1)} | "
            f"{_ci(r['x7_mti'], r['x7_mti_lo'], r['x7_mti_hi'])} | "
            f"{_ci(*(r.get(f'x7_par_minus_shuf{s}') for s in ('', '_lo', '_hi')))} |"
        )
    lines += [
        "",
        "Gains in accuracy points (seen: the training languages; unseen: the rest), MTI of "
        "relative gains, 95% paired-bootstrap CIs. –: not run, or an MTI that is undefined "
        "because the training languages' relative gain is ≤ 0; a value without a CI: its "
        "CI is unbounded (that gain is ≤ 0 in some resamples).",
    ]
    text = "\n".join(lines) + "\n"
    (out / "dose.md").write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
