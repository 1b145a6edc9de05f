"""Comparing tensors by value: a checkpoint against a manifest's digests (`check`), two checkpoints
tensor by tensor (`diff`). Safetensors files and indexes are read in chunks with plain file reads
and NumPy, no torch; pickled checkpoints (.pt, .bin) go through adapter/ with weights_only=True."""
