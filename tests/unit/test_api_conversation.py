"""Follow-up rewriting: the heuristic that makes the last user turn standalone."""

import pytest

from rag.api.conversation import is_followup, key_phrases, rewrite, rewrite_followup


@pytest.mark.parametrize("q", ["and when was it founded?", "How heavy is it?", "what about the Curlew?", "and the price?",
                               "and when?", "Is it waterproof?", "and to France?"])
def test_followups_are_recognised(q):
    assert is_followup(q)


@pytest.mark.parametrize("q", ["When was Northwind Cycles founded?", "How long is the warranty on a Northwind frame?",
                               "Where is the Cardiff store?", "", "What does the Curlew e-bike battery range depend on?"])
def test_standalone_questions_are_left_alone(q):
    assert not is_followup(q)
    assert rewrite_followup("Who makes the Curlew?", q) == q


def test_pronoun_followup_gets_the_previous_entities():
    assert rewrite_followup("Who founded Northwind Cycles?", "and when was it founded?") == \
        "Northwind Cycles: when was it founded?"
    assert rewrite_followup("What is the price of the Skylark SL?", "How heavy is it?") == "Skylark SL: How heavy is it?"


def test_pronoun_followup_without_entities_uses_content_words():
    out = rewrite_followup("tell me about the returns policy", "how long do I have to send it back?")
    assert out.startswith("returns policy:") and out.endswith("how long do I have to send it back?")


def test_ellipsis_swaps_the_entity():
    assert rewrite_followup("How long is the warranty on the Skylark?", "what about the Curlew?") == \
        "How long is the warranty on the Curlew?"
    assert rewrite_followup("What does the Marten Gravel cost?", "and the Otter Kids?") == "What does the Otter Kids cost?"
    assert rewrite_followup("Shipping times to Ireland?", "and to France?") == "Shipping times to France?"


def test_ellipsis_without_entity_appends():
    assert rewrite_followup("How long does shipping take?", "what about to Ireland?") == \
        "How long does shipping take to Ireland?"


def test_key_phrases_put_entities_first():
    assert key_phrases("How long is the warranty on a Northwind frame?")[0] == "Northwind"
    assert key_phrases("Who makes the Curlew e-bike?")[0] == "Curlew"
    assert key_phrases("") == []


def test_rewrite_resolves_chains_and_ignores_assistant_turns():
    msgs = [{"role": "system", "content": "be brief"},
            {"role": "user", "content": "What is the Skylark SL?"},
            {"role": "assistant", "content": "A road bike from the Marten range [1]"},
            {"role": "user", "content": "how much does it cost?"},
            {"role": "assistant", "content": "1299 [1]"},
            {"role": "user", "content": "and its weight?"}]
    assert rewrite(msgs) == "Skylark SL: its weight?"
    assert rewrite([{"role": "user", "content": "When was Northwind founded?"}]) == "When was Northwind founded?"
    assert rewrite([{"role": "assistant", "content": "hi"}]) == ""
