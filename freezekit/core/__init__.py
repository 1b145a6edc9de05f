"""The pure core: records, rules, plan, totals, expectations, report, manifest, config. No torch."""
