"""SpiralIR: the `spiral` tensor dialect on xDSL, its types, shape rules and text I/O."""
