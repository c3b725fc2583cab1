"""A WSGI app that knows nothing of OpenTelemetry, for a pre-fork server (`gunicorn --workers 2 wsgi_app:app`): every
request asks the OpenAI client and answers with the id of the worker process that served it."""

import json
import os

import openai

client = openai.OpenAI()


def app(environ, start_response):
    client.chat.completions.create(model="m-prefork", messages=[{"role": "user", "content": "What is the answer?"}])
    body = json.dumps({"pid": os.getpid()}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
