"""Stand-in for `libs/kotaemon/kotaemon/indices/rankings/llm_trulens.py` (Kotaemon v0.11.3).

`LLMTrulensScoring` (ktem's relevance scorer, its file retrievers' `llm_scorer`) asks the LLM to rate each document's
relevance from 0 to 10 in a thread pool, writes the rating divided by `normalize` into `metadata["llm_trulens_score"]`
and returns every document, best first. The rating is read as upstream reads it (the smallest integer from 0 to 10 in
the answer; none is an error). Upstream trims each document to 7,500 tiktoken tokens; here to as many words.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

from kotaemon.base import Document, HumanMessage, SystemMessage
from kotaemon.llms import BaseLLM, PromptTemplate

from .llm import LLMReranking

SYSTEM_PROMPT_TEMPLATE = PromptTemplate(
    "You are a RELEVANCE grader; providing the relevance of the given CONTEXT to the given QUESTION. "
    "Respond only as a number from 0 to 10 where 0 is the least relevant and 10 is the most relevant."
)
USER_PROMPT_TEMPLATE = PromptTemplate("QUESTION: {question}\n\nCONTEXT: {context}\n\nRELEVANCE: ")
PATTERN_INTEGER = re.compile(r"([+-]?[1-9][0-9]*|0)")
MAX_CONTEXT_LEN = 7500


def re_0_10_rating(text: str) -> int:
    """The smallest integer from 0 to 10 in `text`; AssertionError when there is none."""
    ratings = {int(match) for match in PATTERN_INTEGER.findall(text) if 0 <= int(match) <= 10}
    if not ratings:
        raise AssertionError
    return min(ratings)


class LLMTrulensScoring(LLMReranking):
    llm: BaseLLM
    system_prompt_template: PromptTemplate = SYSTEM_PROMPT_TEMPLATE
    user_prompt_template: PromptTemplate = USER_PROMPT_TEMPLATE
    concurrent: bool = True
    normalize: float = 10

    def run(self, documents: list[Document], query: str) -> list[Document]:
        llm = self.get_from_path("llm") if self.fl.in_run else self.llm
        documents = sorted(documents, key=lambda doc: doc.get_content())
        conversations = [
            [
                SystemMessage(content=self.system_prompt_template.populate()),
                HumanMessage(
                    content=self.user_prompt_template.populate(
                        question=query, context=" ".join(doc.get_content().split()[:MAX_CONTEXT_LEN])
                    )
                ),
            ]
            for doc in documents
        ]
        if self.concurrent:
            with ThreadPoolExecutor() as executor:
                answers = [result.text for result in executor.map(llm, conversations)]
        else:
            answers = [llm(messages).text for messages in conversations]
        scores = sorted(
            ((index, re_0_10_rating(answer) / self.normalize) for index, answer in enumerate(answers)),
            key=lambda scored: scored[1],
            reverse=True,
        )
        kept = []
        for index, score in scores:
            documents[index].metadata["llm_trulens_score"] = score
            kept.append(documents[index])
        return kept
