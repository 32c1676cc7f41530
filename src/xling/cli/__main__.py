"""`python -m xling.cli ...`: what `accelerate launch` and the study's launcher run."""

from xling.cli import main

main()
