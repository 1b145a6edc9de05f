"""The command line: app.py (commands), options.py (declared once), error_boundary.py (exit codes),
rule_order.py (a Click hook), console.py (the console script), progress.py (a spinner), training.py
(`groups`, added to app.py's app when this package is imported)."""

from . import training  # noqa: F401  registers `groups` on the app
