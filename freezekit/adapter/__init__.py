"""Everything that imports torch lives in this package; the rest of freezekit never does.

Import its modules lazily, inside the code paths that need a model.
"""
