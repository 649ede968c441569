"""The Beam transforms: one module, one composite PTransform per stage."""
