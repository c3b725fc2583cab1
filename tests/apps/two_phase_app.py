"""An app that makes a call, waits for a line on standard input, then makes another call and exits."""

import sys

import openai

client = openai.OpenAI()
client.chat.completions.create(model="m-before", messages=[{"role": "user", "content": "hi"}])
print("waiting", flush=True)
sys.stdin.readline()
client.chat.completions.create(model="m-after", messages=[{"role": "user", "content": "hi"}])
print("app done", flush=True)
