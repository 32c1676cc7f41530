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

# Qwen2.5-1.5B and Qwen2.5-7B (their configs' sizes; the 1.5B ties its embeddings, the 7B
# does not), for the long-generation benchmark (bench/long_generate.py).
QWEN2_5_1_5B_SHAPE: dict[str, int | bool] = {
    "hidden_size": 1536,
    "num_hidden_layers": 28,
    "num_attention_heads": 12,
    "num_key_value_heads": 2,
    "intermediate_size": 8960,
    "vocab_size": 151936,
    "tie_word_embeddings": True,
}
QWEN2_5_7B_SHAPE: dict[str, int | bool] = {
    "hidden_size": 3584,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
    "num_key_value_heads": 4,
    "intermediate_size": 18944,
    "vocab_size": 152064,
    "tie_word_embeddings": False,
}
