"""shape ops of the spiral dialect (being written)."""

OPS = []
