"""A Gradio app that does what Kotaemon's web app (ktem) does, and knows nothing of OpenTelemetry.

A question is a chain of queued events, as in ktem's chat page: `submit_msg` (starts a conversation) ->
`chat_fn` (a generator streaming the reasoning pipeline, `pipeline.stream(message, conv_id, history)`) -> a
`.then()` lambda -> `check_and_suggest_name_conv` -> `suggest_chat_conv` -> `persist_data_source`. A file upload runs
`index_fn_file_with_default_loaders`, which consumes the indexing pipeline's stream as ktem does, then `load_files`.
Questions search two file indexes, as ktem searches every index: the first with the uploaded files selected, the
second with none (ktem's retriever then returns nothing at once). `create_llm` fails as ktem's does on a bad
spec (a `gr.Error` over a `KeyError`). The user id and the conversation id live in `gr.State`s, filled per browser
session. Feedback goes to ktem's own handlers (the stand-in's `ChatPage.is_liked` and `ReportIssue.report`), wired as
ktem wires them: a like event of the chatbot with the conversation id, and the report button with the form, the
conversation and its chat.

Usage: ktem_gradio_app.py BASE_URL PORT (stop it with SIGINT, as Ctrl+C).
"""

import sys
import uuid

import gradio as gr
from kotaemon.base import Document
from kotaemon.embeddings import OpenAIEmbeddings
from kotaemon.indices.qa.citation_qa import AnswerWithContextPipeline
from kotaemon.llms import ChatOpenAI
from kotaemon.storages import InMemoryDocumentStore, InMemoryVectorStore
from ktem.index.file.pipelines import DocumentRetrievalPipeline, IndexDocumentPipeline
from ktem.pages.chat import ChatPage
from ktem.pages.chat.report import ReportIssue
from ktem.reasoning.prompt_optimization.suggest_conversation_name import SuggestConvNamePipeline
from ktem.reasoning.prompt_optimization.suggest_followup_chat import SuggestFollowupQuesPipeline
from ktem.reasoning.simple import FullQAPipeline

BASE_URL, PORT = sys.argv[1], int(sys.argv[2])
API_KEY = "sk-proj-e2eSECRETkey0123456789abcdef"
USER_ID = "alice@example.com"

vector_store, doc_store = InMemoryVectorStore(), InMemoryDocumentStore()
sources: dict[str, str] = {}  # file name -> file id (ktem's Source table)
# ktem's tables are named after their index
INDEX_TABLE = type("IndexTable", (), {"__tablename__": "index__1__index"})
EMPTY_INDEX_TABLE = type("IndexTable", (), {"__tablename__": "index__2__index"})


def llm(model: str) -> ChatOpenAI:
    return ChatOpenAI(model=model, base_url=BASE_URL, api_key=API_KEY, temperature=0.2)


def embedding() -> OpenAIEmbeddings:
    return OpenAIEmbeddings(model="kt-embed", base_url=BASE_URL, api_key=API_KEY)


def submit_msg(chat_input, chat_history, user_id, conversation_id):
    """ktem starts a conversation on the first message."""
    if not conversation_id:
        conversation_id = uuid.uuid4().hex
    return "", [*chat_history, [chat_input, None]], conversation_id


def file_retriever(user_id, table, selected) -> DocumentRetrievalPipeline:
    retriever = DocumentRetrievalPipeline(VS=vector_store, DS=doc_store, embedding=embedding(), user_id=user_id)
    retriever.Index = table  # ktem hands a retriever its index's resources after building it
    retriever.set_run({".doc_ids": selected}, temp=False)
    return retriever


def create_pipeline(user_id) -> FullQAPipeline:
    retrievers = [
        file_retriever(user_id, INDEX_TABLE, list(sources.values())),
        file_retriever(user_id, EMPTY_INDEX_TABLE, []),
    ]
    answering = AnswerWithContextPipeline(llm=llm("kt-answer"), enable_citation=True, enable_mindmap=True)
    return FullQAPipeline(retrievers=retrievers, answering_pipeline=answering)


def chat_fn(conversation_id, chat_history, user_id):
    chat_input, _ = chat_history[-1]
    chat_history = chat_history[:-1]
    pipeline = create_pipeline(user_id)
    text, refs = "", ""
    yield [*chat_history, [chat_input, "Thinking ..."]], refs
    for response in pipeline.stream(chat_input, conversation_id, chat_history):
        if not isinstance(response, Document) or response.channel is None:
            continue
        if response.channel == "chat":
            text += response.content or ""
        elif response.channel == "info":
            refs += response.content or ""
        yield [*chat_history, [chat_input, text]], refs


def check_and_suggest_name_conv(chat_history):
    if len(chat_history) == 1:
        name = SuggestConvNamePipeline(llm=llm("kt-name"))(chat_history).text
        return name[:40], True
    return gr.update(), False


def suggest_chat_conv(chat_history):
    suggestion = SuggestFollowupQuesPipeline(llm=llm("kt-suggest"))(chat_history).text
    return [[suggestion]]


def persist_data_source(conversation_id, user_id, chat_history):
    return f"{len(chat_history)} messages saved in {conversation_id}"


def index_fn(files, user_id):
    pipeline = IndexDocumentPipeline(
        VS=vector_store, DS=doc_store, Source=sources, embedding=embedding(), user_id=user_id, chunk_size=16
    )
    outputs = []
    stream = pipeline.stream(files, reindex=False)
    try:
        while True:
            response = next(stream)
            if response.channel == "index":
                outputs.append(f"{response.content['status']} | {response.content['file_name']}")
            yield "\n".join(outputs)
    except StopIteration as stop:
        results, _errors, _docs = stop.value
    return results


def load_files(user_id):
    return "\n".join(sorted(sources))


def create_llm(spec):
    try:
        return {"openai": "ChatOpenAI"}[spec]
    except KeyError as error:
        raise gr.Error(f"Unknown LLM vendor: {spec}") from error


def upload_started():
    return "Please wait for the indexing process to complete before adding your question."


def index_fn_file_with_default_loaders(files, user_id):
    """ktem's quick upload: drains `index_fn`."""
    paths = [str(f) for f in files]
    status = ""
    for status in index_fn(paths, user_id):  # noqa: B007 (the last status is the answer)
        pass
    return status


with gr.Blocks() as demo:
    user_id = gr.State(USER_ID)
    conversation_id = gr.State("")
    chatbot = gr.JSON()  # the chat history as [question, answer] pairs (ktem's Gradio 4 chatbot format)
    text_input = gr.Textbox()
    info_panel = gr.HTML()
    conversation_name = gr.Textbox()
    renamed = gr.State(False)
    preview = gr.State(False)
    suggestions = gr.JSON()
    saved = gr.Textbox()
    upload = gr.File(file_count="multiple")
    upload_status = gr.Textbox()

    (
        text_input.submit(
            submit_msg,
            inputs=[text_input, chatbot, user_id, conversation_id],
            outputs=[text_input, chatbot, conversation_id],
        )
        .success(chat_fn, inputs=[conversation_id, chatbot, user_id], outputs=[chatbot, info_panel])
        .then(fn=lambda: True, inputs=None, outputs=[preview])
        .success(check_and_suggest_name_conv, inputs=chatbot, outputs=[conversation_name, renamed])
        .success(suggest_chat_conv, inputs=[chatbot], outputs=[suggestions])
        .then(persist_data_source, inputs=[conversation_id, user_id, chatbot], outputs=[saved])
    )
    file_list = gr.Textbox()
    upload.upload(upload_started, outputs=upload_status).then(
        index_fn_file_with_default_loaders, inputs=[upload, user_id], outputs=[upload_status]
    ).then(load_files, inputs=[user_id], outputs=[file_list])
    llm_spec, llm_created = gr.Textbox(), gr.Textbox()
    llm_spec.submit(create_llm, inputs=[llm_spec], outputs=[llm_created])

    # feedback on answers: ktem's thumbs up or down (a like event of its chatbot) and its report form
    chat_page, report_issue = ChatPage(app=None), ReportIssue(app=None)
    answers = gr.Chatbot()  # ktem's chatbot is the chat itself; here it only carries the like buttons
    answers.like(fn=chat_page.is_liked, inputs=[conversation_id], outputs=None)
    correctness = gr.Radio([("The answer is correct", "correct"), ("The answer is incorrect", "incorrect")])
    issues = gr.CheckboxGroup(
        [("The answer is offensive", "offensive"), ("The evidence is incorrect", "wrong-evidence")]
    )
    more_detail = gr.Textbox()
    settings_state, chat_state = gr.State({}), gr.State({})
    gr.Button("Report").click(
        report_issue.report,
        inputs=[
            correctness,
            issues,
            more_detail,
            conversation_id,
            chatbot,
            settings_state,
            user_id,
            info_panel,
            chat_state,
        ],
        outputs=None,
    )

if __name__ == "__main__":
    demo.queue().launch(server_name="127.0.0.1", server_port=PORT)
