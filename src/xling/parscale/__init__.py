"""ParScale (Chen et al. 2025, arXiv 2505.10475): parallel streams with learned prefixes and a
learned aggregator, its scaling law L = (A / (N·(k·ln P + 1)))^α + E, and our study of it.

    training.py   from-scratch and frozen-backbone training on the organism's corpus
    corpus.py     `xling parscale corpus`: a real-code corpus (Python files, by-file split, BPE)
    law.py        fitting the law (bootstrap CIs, leave-one-out against alternatives)
    study.py      `xling parscale study`: the N × P grid, resumable
    report.py     the study's analysis, figures and report
    cost.py       memory/latency per generated token: P streams vs more parameters (GPU)
    organism_eval.py  ParScale heads on the bundled organism, evaluated in the 11 languages

The model itself is `xling.models.parscale`, below the backends and trainers that load it;
this package is the study of it. Its __init__ stays light (no torch).
"""
