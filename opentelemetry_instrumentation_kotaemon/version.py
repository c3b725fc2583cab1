"""The package's name and version: the one place the build (hatch), `doctor` and the resource's
`telemetry.distro.version` read them from."""

DISTRIBUTION = "opentelemetry-instrumentation-kotaemon"
__version__ = "0.1.0"
