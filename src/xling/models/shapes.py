"""Model shapes for building random-weight models of real sizes without a download
(benchmarks of generation and of ParScale's cost)."""

# The Qwen2.5-0.5B shape (its config's sizes, tied embeddings), for benchmarks that build
# a random-weight model of a real size without downloading one.
QWEN2_5_0_5B_SHAPE: dict[str, int] = {
    "hidden_size": 896,
    "num_hidden_layers": 24,
    "num_attention_heads": 14,
    "num_key_value_heads": 2,
    "intermediate_size": 4864,
    "vocab_size": 151936,
}
