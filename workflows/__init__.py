"""Per-process glue as data: workflows/<process>/process.json and forms/*.json, read by engine.registry."""
