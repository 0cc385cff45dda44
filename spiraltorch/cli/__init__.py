"""`stc`: the SpiralTorch command line (dump IR after any pass, run the interpreter, ...)."""
