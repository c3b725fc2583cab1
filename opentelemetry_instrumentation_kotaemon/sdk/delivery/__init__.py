"""At-least-once delivery of traces and logs: failed OTLP exports are kept and sent again in the background."""
