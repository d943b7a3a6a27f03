"""The extractive generator on the real MiniLM: it quotes the sentence that answers, not the one that names the subject."""

from __future__ import annotations

import pytest

from rag.generate import NOT_FOUND, ExtractiveGenerator, content_words
from rag.types import Chunk, Hit


@pytest.fixture(scope="module")
def gen(embedder):
    return ExtractiveGenerator(embedder)


def _hit(text: str, title: str, doc: str = "d") -> Hit:
    return Hit(Chunk(id=f"{doc}#0", doc_id=doc, text=text, title=title, position=0), 1.0)


@pytest.mark.parametrize(("title", "text", "question", "answer"), [
    ("Feldon marathon", "The Feldon marathon is run every April. The course record of 2:11:40 was set by Daniel Kiprop "
     "in 2019. About 4,000 runners take part each year.", "Who holds the course record of the Feldon marathon?",
     "Daniel Kiprop"),
    ("Bellbrook cheese shop", "The Bellbrook cheese shop opens from 9 am to 5 pm on weekdays. On Saturdays it closes at "
     "1 pm. It is closed on Sundays.", "When does the Bellbrook cheese shop close on Saturdays?", "1 pm"),
])
def test_the_answering_sentence_wins_over_the_subject_sentence(gen, title, text, question, answer):
    out = gen.generate(question, [_hit(text, title)])
    assert not out.abstained and answer in out.text and out.cited == [1]


def test_no_context_and_unrelated_context(gen):
    assert gen.generate("Who built the castle?", []).text == NOT_FOUND
    out = gen.generate("What is the boiling point of ethanol?", [_hit("Tickets cost 5 pounds.", "Zoo")])
    assert out.abstained or "5 pounds" in out.text  # never invents: only quotes the context


def test_content_words_drop_stop_words():
    assert content_words("What is the price of the shop") == {"price", "shop"}
