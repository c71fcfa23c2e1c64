"""Learning from corrections: losses, heads, fitting, MCC thresholds, metrics."""
