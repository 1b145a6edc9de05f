"""Model sources: a MODEL string parsed once into a SourceSpec (spec.py, registry.py), and one module
per kind that turns a spec into an inventory or a model (see registry.py for the protocol)."""
