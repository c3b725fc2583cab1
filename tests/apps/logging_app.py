"""An app whose log format shows trace context, as JSON or text log pipelines do to link logs and traces."""

import logging

import openai

logging.basicConfig(format="LOG %(name)s trace=%(otelTraceID)s span=%(otelSpanID)s %(message)s", level=logging.WARNING)
logging.getLogger("openai").setLevel(logging.DEBUG)  # the client logs each request it sends
logging.getLogger("app").warning("before the call")
openai.OpenAI().chat.completions.create(model="m-logged", messages=[{"role": "user", "content": "hi"}])
print("app done")
