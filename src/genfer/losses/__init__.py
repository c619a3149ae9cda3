"""Losses: pure functions of tensors (and of frozen networks passed in)."""
