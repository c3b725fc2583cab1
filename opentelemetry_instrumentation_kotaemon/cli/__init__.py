"""The `opentelemetry-kotaemon` command: `doctor`, `bootstrap` and `view`."""
