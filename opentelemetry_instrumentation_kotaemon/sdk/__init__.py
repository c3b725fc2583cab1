"""OpenTelemetry SDK plugins: samplers."""
