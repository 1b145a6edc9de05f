"""The road a command takes: settings -> load -> plan -> report, and the outputs of freeze and check."""
