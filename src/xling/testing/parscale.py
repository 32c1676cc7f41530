"""A ParScale study small enough for a CPU test: two one-layer sizes, a few steps, tiny
batches on the organism's cpu-small corpus (`--set` strings for `load_study_settings`;
add `p_values=[...]` for the grid)."""

TINY_STUDY_SETS = (
    "corpus='cpu-small'",
    "prefix_tokens=2",
    "eval_batches=3",
    "eval_batch_size=2",
    "lang_eval_batches=1",
    "n_boot=8",
    "lang_k=false",
    "train.steps=3",
    "train.batch_size=2",
    "train.seq_len=48",
    "train.warmup_steps=1",
    "sizes=[{hidden=16,layers=1,heads=2,kv_heads=1,intermediate=32},"
    "{hidden=32,layers=1,heads=2,kv_heads=1,intermediate=64}]",
)
