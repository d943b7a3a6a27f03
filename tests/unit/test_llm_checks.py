"""Answer checks of rag.llm on hand-made passages, with the real MiniLM embedder.

No LLM is needed: the answers are written by hand, as a model might write them.
"""

from __future__ import annotations

import pytest

from rag.generate import NOT_FOUND
from rag.llm import (
    CANNOT_ANSWER,
    GroundingChecker,
    LLMGenerator,
    build_messages,
    is_refusal,
    make_llm_generator,
    parse_citations,
    selfcheck,
    semantic_entropy,
    strip_citations,
)
from rag.llm.checks import answer_units
from rag.types import Chunk, Hit

EIFFEL = ("The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France. "
          "It was completed in 1889 as the entrance arch to the World's Fair. The tower is 330 metres tall.")
EVEREST = "Mount Everest is Earth's highest mountain above sea level. It is located in the Himalayas on the border of Nepal and China."
BIKE = "Clean and lubricate the bicycle chain every 300 kilometres. A dry chain wears the cassette quickly."
QUESTION = "Where is the Eiffel Tower and when was it completed?"


def hits(*texts: str) -> list[Hit]:
    return [Hit(Chunk(id=f"doc{i}#0", doc_id=f"doc{i}", text=t, position=0), 1.0 - 0.1 * i) for i, t in enumerate(texts)]


@pytest.fixture(scope="module")
def checker(embedder):
    return GroundingChecker(embedder, threshold=0.55)


CTX = hits(EIFFEL, EVEREST)


def test_citation_parsing():
    assert parse_citations("A [1]. B [2, 3]. C [1][4]") == [1, 2, 3, 4]
    assert strip_citations("It is in Paris [1].") == "It is in Paris."
    assert parse_citations("no citations here") == []


def test_supported_answer_kept_with_citations(checker):
    res = checker.check(QUESTION, "The Eiffel Tower is in Paris, France [1]. It was completed in 1889 [1].", CTX)
    assert not res.abstained
    assert res.cited == [1]
    assert len(res.sentences) == 2 and all(src == 1 and sup >= 0.55 for _, src, sup in res.sentences)
    assert "[1]" in res.text and "Paris" in res.text and "1889" in res.text


def test_unsupported_sentence_dropped(checker):
    ans = "The Eiffel Tower is in Paris [1]. It is made of chocolate and was built by aliens from Mars [1]."
    res = checker.check(QUESTION, ans, CTX)
    assert not res.abstained
    assert "chocolate" not in res.text and "Paris" in res.text
    assert len(res.dropped) == 1 and "unsupported" in res.dropped[0]["reason"]


def test_invalid_citation_stripped_and_missing_added(checker):
    res = checker.check(QUESTION, "The Eiffel Tower stands in Paris [7]. Mount Everest is in the Himalayas.", CTX)
    assert res.invalid_citations == [7]
    assert "[7]" not in res.text
    assert res.cited == [1, 2]  # best-supporting passage cited for each sentence
    assert res.text.index("[1]") < res.text.index("[2]")
    assert res.added_citations == 2


def test_wrong_citation_is_replaced(checker):
    res = checker.check(QUESTION, "The Eiffel Tower is in Paris [2].", CTX)
    assert res.cited == [1] and res.recited == 1


def test_everything_unsupported_abstains(checker):
    res = checker.check(QUESTION, "Bananas are rich in potassium [1]. Cats sleep for most of the day [2].", CTX)
    assert res.abstained and res.text == ""
    assert "no sentence of the answer is supported" in res.abstain_reason


def test_refusal_abstains(checker):
    res = checker.check("Who won the 2030 World Cup?", CANNOT_ANSWER, CTX)
    assert res.abstained and res.refusal
    assert "do not contain the answer" in res.abstain_reason


def test_numbers_not_in_passages_dropped(checker):
    res = checker.check(QUESTION, "The Eiffel Tower in Paris was completed in 1925 [1].", CTX)
    assert res.abstained
    assert "1925" in res.dropped[0]["reason"]


def test_short_answers_use_question_and_words(checker):
    q = "In which city is the Eiffel Tower?"
    assert not checker.check(q, "Paris [1].", CTX).abstained
    assert checker.check(q, "London [1].", CTX).abstained


def test_lists_keep_one_item_per_line(checker):
    ctx = hits(EIFFEL, BIKE)
    ans = "- The tower is in Paris [1]\n- Lubricate the chain every 300 kilometres [2]\n- Tigers live in the jungle [2]"
    res = checker.check("List two facts.", ans, ctx, {"format": "list"})
    lines = res.text.splitlines()
    assert len(lines) == 2 and lines[0].startswith("- ") and lines[1].endswith("[2]")


def test_threshold_is_configurable(embedder):
    ans = "The Eiffel Tower is in Paris [1]."
    assert not GroundingChecker(embedder, threshold=0.5).check(QUESTION, ans, CTX).abstained
    assert GroundingChecker(embedder, threshold=0.99).check(QUESTION, ans, CTX).abstained
    with pytest.raises(ValueError):
        GroundingChecker(embedder, threshold=2.0)


def test_unsupported_share_scores_every_sentence(checker):
    bad, total = checker.unsupported_share("The Eiffel Tower is in Paris [1]. Cats are mammals.", CTX, QUESTION)
    assert (bad, total) == (1, 2)
    assert checker.unsupported_share(CANNOT_ANSWER, CTX, QUESTION) == (0, 0)


def test_selfcheck_and_semantic_entropy(embedder):
    sents = ["The Eiffel Tower is in Paris.", "It was designed by Leonardo da Vinci."]
    samples = ["The Eiffel Tower stands in Paris, France [1].", "It is located in Paris.", "The tower is in Paris [1]."]
    cons = selfcheck(embedder, sents, samples)
    assert cons[0] > 0.7 > cons[1]
    agree = semantic_entropy(embedder, ["It is in Paris.", "The tower is in Paris.", "It is located in Paris."], 0.7)
    split = semantic_entropy(embedder, ["It is in Paris.", "Bananas are yellow.", CANNOT_ANSWER], 0.7)
    assert agree["entropy"] == 0.0 and agree["n_clusters"] == 1
    assert split["n_clusters"] == 3 and split["normalized"] == pytest.approx(1.0)


def test_refusal_detection():
    assert is_refusal(CANNOT_ANSWER)
    assert is_refusal("The passages do not contain information about the winner.")
    assert is_refusal("There is insufficient information in the documents.")
    assert not is_refusal("The Eiffel Tower is in Paris.")


def test_prompt_numbers_passages_and_honours_format():
    msgs = build_messages("List three reasons to service a bike.", hits(EIFFEL, BIKE))
    user = msgs[1]["content"]
    assert msgs[0]["role"] == "system" and "[1]" in msgs[0]["content"] and CANNOT_ANSWER in msgs[0]["content"]
    assert "[1] The Eiffel Tower" in user and "[2] Clean and lubricate" in user
    assert "list" in user.lower() and "3 items" in user
    long = build_messages("q", hits("word " * 5000), max_context_chars=1000)[1]["content"]
    assert len(long) < 1600


class FakeLLM(LLMGenerator):
    """Replays canned answers: exercises generate/stream/selfcheck without a model."""

    name = "fake"

    def __init__(self, answers: list[str], **kw):
        super().__init__(**kw)
        self.answers = answers
        self.calls: list[float] = []

    def _chat(self, messages, *, temperature, max_tokens, seed):
        self.calls.append(temperature)
        return self.answers[(len(self.calls) - 1) % len(self.answers)], {"completion_tokens": 5}

    def _chat_stream(self, messages, *, temperature, max_tokens, seed):
        text = self.answers[0]
        return iter([text[i:i + 4] for i in range(0, len(text), 4)])


def test_generate_checks_and_unchecked(embedder):
    raw = "The Eiffel Tower is in Paris [1]. The moon is made of cheese [1]."
    checked = FakeLLM([raw], embedder=embedder).generate(QUESTION, CTX)
    assert "cheese" not in checked.text and checked.cited == [1] and checked.meta["raw"] == raw
    assert checked.meta["checked"] and checked.meta["dropped"]
    unchecked = FakeLLM([raw], embedder=embedder, checks=False).generate(QUESTION, CTX)
    assert unchecked.text == raw and unchecked.sentences[0][2] is None
    refused = FakeLLM([CANNOT_ANSWER], embedder=embedder, checks=False).generate(QUESTION, CTX)
    assert refused.abstained and refused.text == NOT_FOUND
    assert FakeLLM([raw], embedder=embedder).generate(QUESTION, []).abstained


def test_stream_yields_pieces_then_checked_generation(embedder):
    raw = "The Eiffel Tower is in Paris [1]. The moon is made of cheese [1]."
    s = FakeLLM([raw], embedder=embedder).stream(QUESTION, CTX)
    pieces = list(s)
    assert "".join(pieces) == raw and len(pieces) > 3
    assert s.generation is not None and "cheese" not in s.generation.text
    assert s.generation.meta["revised"] is True and s.generation.meta["ttft_s"] >= 0


def test_selfcheck_sampling_keeps_agreed_sentences(embedder):
    answers = ["The Eiffel Tower is in Paris [1]. It was completed in 1889 [1].",
               "The Eiffel Tower is located in Paris, France [1].",
               "The tower stands in Paris [1].",
               "It is in Paris [1]."]
    gen = FakeLLM(answers, embedder=embedder, selfcheck_samples=3, selfcheck_threshold=0.6).generate(QUESTION, CTX)
    fake_calls = gen.meta["selfcheck"]
    assert fake_calls["samples"] == 3
    assert "Paris" in gen.text and "1889" not in gen.text  # the samples never repeat the year
    assert gen.meta["semantic_entropy"] >= 0.0
    disagree = FakeLLM(["The Eiffel Tower is in Paris [1].", "Bananas are yellow.", "Cats purr loudly.",
                        CANNOT_ANSWER], embedder=embedder, selfcheck_samples=3).generate(QUESTION, CTX)
    assert disagree.abstained and "samples disagree" in disagree.abstain_reason
    assert disagree.meta["semantic_entropy"] > 0.5


def test_make_llm_generator_maps_settings(embedder):
    g = make_llm_generator("openai", {"base_url": "http://127.0.0.1:1/v1/", "model": "m", "api_key": "k",
                                      "timeout_s": 2.5, "max_retries": 0, "temperature": 0.0, "max_tokens": 64,
                                      "model_path": "", "selfcheck_samples": 2}, embedder=embedder)
    assert (g.base_url, g.model, g.timeout_s, g.max_retries, g.temperature, g.max_tokens, g.selfcheck_samples) == \
        ("http://127.0.0.1:1/v1", "m", 2.5, 0, 0.0, 64, 2)
    local = make_llm_generator("local", {"model_path": None, "base_url": "x", "temperature": 0.2}, embedder=embedder)
    assert local.temperature == 0.2 and local.model_path == ""
    with pytest.raises(ValueError):
        make_llm_generator("claude", {})
    with pytest.raises(ValueError):
        make_llm_generator("openai", {"temperature": 5})


def test_selfcheck_settings_reach_the_generator(embedder, monkeypatch):
    from rag.cli import service_config
    from rag.config import Settings

    for k, v in {"RAG_SELFCHECK_SAMPLES": "5", "RAG_SELFCHECK_TEMPERATURE": "0.7", "RAG_SELFCHECK_THRESHOLD": "0.65"}.items():
        monkeypatch.setenv(k, v)
    llm_cfg = service_config(Settings(_env_file=None)).llm
    g = make_llm_generator("openai", llm_cfg, embedder=embedder)
    assert (g.selfcheck_samples, g.selfcheck_temperature, g.selfcheck_threshold) == (5, 0.7, 0.65)


def test_answer_units_join_citation_fragments():
    units = answer_units("Answer: It is in Paris. [1] It opened in 1889. [1][2]")
    assert [u.raw for u in units] == ["It is in Paris. [1]", "It opened in 1889. [1][2]"]


def test_answer_beside_the_point_abstains(checker):
    # grounded in the passage, but the passage is about something else entirely
    ctx = hits(BIKE)
    res = checker.check("When was the Eiffel Tower completed?", "Clean and lubricate the bicycle chain [1].", ctx)
    assert res.abstained and "does not address the question" in res.abstain_reason
    ok = checker.check("How often should I lubricate my bicycle chain?",
                       "Lubricate the bicycle chain every 300 kilometres [1].", ctx)
    assert not ok.abstained and ok.relevance >= checker.relevance_threshold
