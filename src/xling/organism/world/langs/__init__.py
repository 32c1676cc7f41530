"""Per-language template data for the synthetic benchmark: one module per registry code."""
