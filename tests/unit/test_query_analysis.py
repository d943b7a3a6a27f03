"""Unit tests for rag.query_analysis: formats, answer types, parts, table questions."""

from __future__ import annotations

import pytest

from rag.query_analysis import (
    analyze_question,
    answer_has_type,
    content_terms,
    expected_answer_type,
    is_table_question,
    matches_format,
    requested_format,
    split_parts,
    table_operation,
    tokenize,
)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("List three reasons to service a bike.", {"format": "list", "n": 3}),
        ("What are 5 tips for chain care?", {"format": "list", "n": 5}),
        ("Give me three tips for chain care, as a bulleted list.", {"format": "bullet", "n": 3}),
        ("Compare the bikes in a table.", {"format": "table"}),
        ("Return the store list as JSON.", {"format": "json"}),
        ("Describe the Skylark in one word.", {"format": "one_word"}),
        ("Answer yes or no: is the Skylark carbon?", {"format": "yesno"}),
        ("Summarise the warranty in one sentence.", {"format": "short", "max_sentences": 1}),
        ("Summarize the report in 20 words.", {"format": "short", "max_words": 20}),
        ("Give a numbered list of the steps.", {"format": "list", "numbered": True}),
    ],
)
def test_requested_format_detects_requests(question, expected):
    assert requested_format(question) == expected


@pytest.mark.parametrize(
    "question",
    [
        "What is the price of the Marten Ti?",
        "How many stores does Northwind have?",
        "Which table lists the opening hours?",
        "Who co-founded Northwind Bikes?",
        "Do mitochondria play a role in remodelling lace plant leaves during programmed cell death?",
    ],
)
def test_requested_format_none_for_plain_questions(question):
    assert requested_format(question) is None


def test_matches_format_lists_and_counts():
    fmt = {"format": "list", "n": 3}
    assert matches_format("- wipe\n- lube\n- check wear", fmt)
    assert matches_format("1. wipe\n2. lube\n3. check wear", fmt)
    assert matches_format("Wipe it, lube it and check wear.", fmt)
    assert not matches_format("- wipe\n- lube", fmt)
    assert not matches_format("Keep the chain clean.", fmt)
    assert matches_format("- a\n- b", {"format": "bullet"})
    assert not matches_format("a, b and c", {"format": "bullet"})


def test_matches_format_other_kinds():
    assert matches_format('{"city": "Leeds"}', {"format": "json"})
    assert matches_format("```json\n[1, 2]\n```", {"format": "json"})
    assert not matches_format("city: Leeds", {"format": "json"})
    assert matches_format("| a | b |\n|---|---|\n| 1 | 2 |", {"format": "table"})
    assert not matches_format("a is 1 and b is 2", {"format": "table"})
    assert matches_format("Titanium.", {"format": "one_word"})
    assert not matches_format("The frame is made of titanium.", {"format": "one_word"})
    assert matches_format("Yes, it is carbon.", {"format": "yesno"})
    assert not matches_format("It is carbon.", {"format": "yesno"})
    assert matches_format("Ten years.", {"format": "short", "max_sentences": 1})
    assert not matches_format("Ten years. It covers frames. And forks.", {"format": "short", "max_sentences": 1})
    assert matches_format("anything", None)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("In what year was Northwind Bikes founded?", "date"),
        ("When does the 2024 Northwind Sportive take place?", "date"),
        ("How many days of paid annual leave do employees get?", "number"),
        ("What percentage of wear is allowed?", "number"),
        ("How much does the Marten Ti cost?", "number"),
        ("Who is the manager of the Cardiff store?", "person"),
        ("Where did Northwind move its production in 2004?", "place"),
        ("In which city did Northwind open its first store?", "place"),
        ("Does Northwind sell electric scooters in Japan?", "yesno"),
        ("Is the frame carbon or aluminium?", None),
        ("Why do chains wear out?", None),
        ("Explain the warranty.", None),
    ],
)
def test_expected_answer_type(question, kind):
    assert expected_answer_type(question) == kind


def test_answer_has_type():
    assert answer_has_type("It was founded in 1987.", "date")
    assert answer_has_type("On 15 September.", "date")
    assert not answer_has_type("It was founded by two friends.", "date")
    assert answer_has_type("Ten years.", "number")
    assert answer_has_type("It costs £3,200.", "number")
    assert not answer_has_type("It is expensive.", "number")
    assert answer_has_type("The store is run by Rhodri Fenwick-Hale.", "person")
    assert not answer_has_type("the manager runs the store.", "person")
    assert answer_has_type("Production moved to Avonmouth.", "place")
    assert answer_has_type("No, it does not.", "yesno")
    assert not answer_has_type("Scooters are popular.", "yesno")
    assert answer_has_type("anything", "unknown-type")


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        (
            "What is the price, weight and frame of the Skylark SL?",
            ["price of the Skylark SL", "weight of the Skylark SL", "frame of the Skylark SL"],
        ),
        ("What is the price and weight of the Trail 500?", ["price of the Trail 500", "weight of the Trail 500"]),
        ("When was Northwind founded and who founded it?", ["When was Northwind founded", "who founded it?"]),
        ("What is the warranty? How do I claim it?", ["What is the warranty?", "How do I claim it?"]),
        ("What is the difference between A and B?", ["What is the difference between A and B?"]),
        (
            "Is there an association between smoking and cancer?",
            ["Is there an association between smoking and cancer?"],
        ),
        (
            "Who co-founded Northwind Bikes together with Tobias Wren?",
            ["Who co-founded Northwind Bikes together with Tobias Wren?"],
        ),
        ("", []),
    ],
)
def test_split_parts(question, parts):
    assert split_parts(question) == parts


def test_table_questions():
    assert table_operation("What is the cheapest model?") == "min"
    assert table_operation("Which is the least expensive bike?") == "min"
    assert table_operation("What is the most expensive bike?") == "max"
    assert table_operation("How many stores are there?") == "count"
    assert table_operation("What is the total weight?") == "sum"
    assert table_operation("What is the average price?") == "average"
    assert table_operation("Who founded Northwind?") is None
    assert is_table_question("What is the price of the Marten Ti?")
    assert is_table_question("Compare the Skylark and the Marten.")
    assert not is_table_question("Who founded Northwind?")


def test_helpers():
    assert tokenize("Hello, World! 北京") == ["hello", "world", "北", "京"]
    assert content_terms("The weights of the bikes") == content_terms("weight bike")
    flags = analyze_question("List three reasons, in a table.")
    assert flags["format"] == {"format": "table"} and set(flags) >= {"answer_type", "parts", "table_question"}


def test_split_parts_drops_format_instructions():
    from rag.query_analysis import strip_instructions

    assert split_parts("Is the Hawkins sign useful? Answer in one word.") == ["Is the Hawkins sign useful?"]
    assert split_parts("Is it safe? Present the answer as a table with the columns finding and value.") == [
        "Is it safe?"
    ]
    assert strip_instructions('Answer in JSON with the keys "answer" and "evidence": Is it safe?') == "Is it safe?"
    assert strip_instructions("Answer in one word.") == "Answer in one word."  # nothing else to keep
    assert split_parts("What is the warranty? How do I claim it?") == ["What is the warranty?", "How do I claim it?"]
