"""Stand-in for `libs/kotaemon/kotaemon/llms/linear.py` (Kotaemon v0.11.3): `SimpleLinearPipeline`: a prompt, then an
LLM.
"""

from kotaemon.base import BaseComponent, Document
from kotaemon.llms.base import BaseLLM
from kotaemon.llms.prompts import BasePromptComponent


class SimpleLinearPipeline(BaseComponent):
    prompt: BasePromptComponent
    llm: BaseLLM

    def run(self, *, llm_kwargs={}, post_processor_kwargs={}, **prompt_kwargs):  # noqa: B006
        prompt = self.prompt(**prompt_kwargs)
        output = self.llm(prompt.text, **llm_kwargs)
        return Document(output.text if hasattr(output, "text") else output)
