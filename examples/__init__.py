"""Apps to copy, run unchanged under `opentelemetry-instrument`, and the `make demo` runner (see README.md here)."""
