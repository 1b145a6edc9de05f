"""The command line: app.py (commands), options.py (declared once), error_boundary.py (exit codes),
rule_order.py (a Click hook), console.py (the console script), progress.py (a spinner)."""
