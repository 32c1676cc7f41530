"""ParScale inference cost on GPU: memory and latency per generated token for P streams
against the dense model of equal predicted loss, batch 1..8 (see xling.parscale.cost).

    python bench/parscale_cost.py --json out/cost.json            # one H200: < 3 min
    python bench/parscale_cost.py --shape tiny --device cpu       # CPU smoke

The same as `xling parscale cost`; prints the tables last and writes JSON with --json.
"""

from __future__ import annotations

from xling.cli.parscale import cost_command

if __name__ == "__main__":
    import typer

    typer.run(cost_command)
