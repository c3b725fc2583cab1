"""A FastAPI app that knows nothing of OpenTelemetry (Kotaemon's UI runs on FastAPI too): `GET /ask` asks the
OpenAI client and answers with the id of the process that served it. Served with `uvicorn web_app:app`.
"""

import os

import openai
from fastapi import FastAPI

app = FastAPI()
client = openai.OpenAI()


@app.get("/ask")
def ask(model: str = "m-web"):
    reply = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "What is the answer?"}])
    return {"answer": reply.choices[0].message.content, "pid": os.getpid()}
