"""Analysis of evaluation runs: transfer metrics (MTI, gains), scaling-law fits, reports.

- `transfer`: per-language gains and the Multilingual Transferability Index, paired bootstrap CIs
- `fits`: f(X) = α·X^β fits over the number of training languages, leap and gap
- `report`: HTML/Markdown report with figures and CSV tables
- `paper`, `verdicts`: a study's findings next to the paper's; paired differences, Holm
- `commands`: the `xling compare | fit | report` commands
"""
