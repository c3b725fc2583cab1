"""The SDK side: the distro and configurator `opentelemetry-instrument` loads, samplers, exporters, their defaults."""
