"""The telemetry core: span lifecycle and count-once (`telemetry`), one record per kind of span (`spans`), content
policy and redaction, events, streams, metric instruments and the readers every extractor shares (`values`)."""
