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

# A shape for CPU tests and smoke runs of the random real-shape models (models/random_init.py):
# head size 16, and a vocabulary above the organism tokenizer's 4,098 tokens, so the
# tokenizer is widened exactly as it is for the real shapes.
TINY_SHAPE: dict[str, int | bool] = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "intermediate_size": 128,
    "vocab_size": 8192,
    "tie_word_embeddings": True,
}

# The shapes a random model can be made of by name (bench/random_model.py, --shape).
NAMED_SHAPES: dict[str, dict[str, int | bool]] = {
    "tiny": TINY_SHAPE,
    "qwen2.5-0.5b": {**QWEN2_5_0_5B_SHAPE, "tie_word_embeddings": True},
    "qwen2.5-1.5b": QWEN2_5_1_5B_SHAPE,
    "qwen2.5-7b": QWEN2_5_7B_SHAPE,
}


def named_shape(name: str) -> dict[str, int | bool]:
    """The shape called `name` (NAMED_SHAPES), or a ValueError listing the names."""
    try:
        return NAMED_SHAPES[name]
    except KeyError:
        raise ValueError(f"unknown shape {name!r}; known: {', '.join(NAMED_SHAPES)}") from None


def parameter_count(shape: dict[str, int | bool]) -> int:
    """Parameters of a Qwen2 causal LM of `shape`, counted from its sizes: q/k/v projections
    with biases, o/gate/up/down without, two RMSNorms a layer and one at the end, and an
    lm_head of its own unless the embeddings are tied."""
    hidden = int(shape["hidden_size"])
    vocab = int(shape["vocab_size"])
    kv_width = int(shape["num_key_value_heads"]) * hidden // int(shape["num_attention_heads"])
    attention = (hidden * hidden + hidden) + 2 * (hidden * kv_width + kv_width) + hidden * hidden
    mlp = 3 * hidden * int(shape["intermediate_size"])
    layer = attention + mlp + 2 * hidden
    embeddings = vocab * hidden * (1 if shape.get("tie_word_embeddings", False) else 2)
    return int(shape["num_hidden_layers"]) * layer + hidden + embeddings


def decode_weight_bytes(shape: dict[str, int | bool], dtype_bytes: int = 2) -> int:
    """Weight bytes one decode step reads: every weight once, except that an untied input
    embedding costs only its batch's rows, so the count is the tied model's."""
    return dtype_bytes * parameter_count({**shape, "tie_word_embeddings": True})


def kv_bytes_per_token(shape: dict[str, int | bool], dtype_bytes: int = 2) -> int:
    """Cache bytes of one token: keys and values of every layer's key/value heads."""
    head_dim = int(shape["hidden_size"]) // int(shape["num_attention_heads"])
    layers, kv_heads = int(shape["num_hidden_layers"]), int(shape["num_key_value_heads"])
    return 2 * layers * kv_heads * head_dim * dtype_bytes
