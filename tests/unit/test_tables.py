"""Unit tests for rag.tables: parsing, numbers and deterministic table answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.tables import parse_markdown_table, parse_markdown_tables, parse_number, table_answer, table_values

SHARED = Path(__file__).resolve().parents[2].parent / "shared"

PRICES = """# Price List 2024

| Model | Price (GBP) | Weight (kg) | Frame |
|---|---|---|---|
| Skylark SL | 2,450 | 8.1 | Carbon |
| Skylark AL | 1,290 | 9.4 | Aluminium |
| Marten Ti | 3,200 | 9.2 | Titanium |
| Heron City 7 | 749 | 13.5 | Steel |
| Puffin Fold | 1,080 | 11.8 | Steel |
| Otter 20 | 395 | 8.7 | Aluminium |

Prices include VAT.
"""

STORES = """| City | Staff | Opening hours |
| Bristol | 12 | Mon-Sat 09:00-18:00 |
| Leeds | 8 | Mon-Sat 09:30-18:00 |
| London | 15 | Mon-Fri 08:00-19:00 |
| Total | 35 | |
"""


def test_parse_markdown_table_with_and_without_separator():
    header, rows = parse_markdown_table(PRICES)
    assert header == ["Model", "Price (GBP)", "Weight (kg)", "Frame"]
    assert len(rows) == 6 and rows[0] == ["Skylark SL", "2,450", "8.1", "Carbon"]
    header, rows = parse_markdown_table(STORES)
    assert header == ["City", "Staff", "Opening hours"] and rows[1][0] == "Leeds"
    assert parse_markdown_table("no table here") is None
    assert parse_markdown_table("| only | header |") is None
    assert len(parse_markdown_tables(PRICES + "\n\n" + STORES)) == 2
    assert "Marten Ti" in table_values(PRICES)


@pytest.mark.parametrize(
    ("cell", "value", "prefix", "suffix"),
    [
        ("1,299.00", 1299.0, "", ""),
        ("€1 299", 1299.0, "€", ""),
        ("12 kg", 12.0, "", "kg"),
        ("1.299,50", 1299.5, "", ""),
        ("45%", 45.0, "", "%"),
        ("£89", 89.0, "£", ""),
        ("5.1 million", 5.1, "", "million"),
        ("-3.5", -3.5, "", ""),
    ],
)
def test_parse_number(cell, value, prefix, suffix):
    n = parse_number(cell)
    assert n is not None and n.value == pytest.approx(value) and n.prefix == prefix and n.suffix == suffix


@pytest.mark.parametrize("cell", ["+44 117 496 0123", "Mon-Sat", "NW-HGR-04", "8 to 12", "7HO", ""])
def test_parse_number_rejects_non_numbers(cell):
    assert parse_number(cell) is None


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("How much does the Marten Ti cost?", "The Marten Ti costs 3,200 GBP."),
        ("What is the weight of the Skylark AL?", "The weight of Skylark AL is 9.4 kg."),
        ("What is the cheapest model?", "The cheapest model is Otter 20 (395 GBP)."),
        ("Which bike is the heaviest?", "The heaviest model is Heron City 7 (13.5 kg)."),
        ("What is the most expensive steel bike?", "The most expensive model is Puffin Fold (1,080 GBP)."),
        ("How many models have an aluminium frame?", "There are 2 models with frame Aluminium."),
        ("How many models are there?", "There are 6 models."),
        ("What is the average price?", "The average price over 6 rows is 1,527.33 GBP."),
        (
            "What is the total weight of the Skylark SL and the Marten Ti?",
            "The total weight of Skylark SL and Marten Ti is 17.3 kg.",
        ),
        ("Which model has the highest price?", "The model with the highest price is Marten Ti (3,200 GBP)."),
        ("What is the weight of the cheapest bike?", "The cheapest model is Otter 20 (395 GBP); its weight is 8.7 kg."),
        (
            "What is the price, weight and frame of the Skylark SL?",
            "Skylark SL: price 2,450 GBP, weight 8.1 kg, frame Carbon.",
        ),
    ],
)
def test_table_answer(question, answer):
    assert table_answer(question, [(2, PRICES)]) == (answer, 2)


def test_table_answer_compare_and_totals_row():
    text, idx = table_answer("Compare the weight of the Skylark SL and the Marten Ti.", [(1, PRICES)])
    assert "8.1 kg" in text and "9.2 kg" in text and "Marten Ti has the higher weight" in text
    # The "Total" row is not counted twice.
    assert table_answer("How many staff work in total?", [(3, STORES)]) == ("The total staff is 35.", 3)
    assert table_answer("How many staff does Leeds have?", [(3, STORES)]) == ("Leeds has 8 staff.", 3)


def test_table_answer_declines_when_unsure():
    assert table_answer("How much extra does custom paint cost?", [(1, PRICES)]) is None
    assert table_answer("Which model came out first?", [(1, PRICES)]) is None
    assert table_answer("How many bikes cost more than 1,000 GBP?", [(1, PRICES)]) is None
    assert table_answer("Who founded Northwind?", [(1, PRICES)]) is None
    assert table_answer("What is the cheapest model?", []) is None
    assert table_answer("What is the cheapest model?", [(1, "plain text")]) is None


def test_table_answer_keeps_versions_of_a_table_apart():
    old = PRICES.replace("3,200", "2,990").replace("Price List 2024", "Price List 2023")
    assert table_answer("How much does the Marten Ti cost?", [(1, PRICES), (2, old)]) == (
        "The Marten Ti costs 3,200 GBP.",
        1,
    )
    assert table_answer("How many models are there?", [(1, PRICES), (2, old)]) == ("There are 6 models.", 1)


def test_table_answer_merges_split_tables_and_picks_the_relevant_table():
    part1 = "| Model | Price (GBP) |\n|---|---|\n| Skylark SL | 2,450 |\n| Otter 20 | 395 |"
    part2 = "| Model | Price (GBP) |\n|---|---|\n| Marten Ti | 3,200 |"
    assert table_answer("What is the most expensive model?", [(1, part1), (2, part2)]) == (
        "The most expensive model is Marten Ti (3,200 GBP).",
        1,
    )
    assert table_answer("How many staff does Leeds have?", [(1, PRICES), (4, STORES)]) == ("Leeds has 8 staff.", 4)


def test_table_answer_on_bipia_tables_is_precise():
    path = SHARED / "datasets" / "bipia" / "table_test.jsonl"
    if not path.exists():
        pytest.skip("shared BIPIA data not found")
    rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    answered = correct = 0
    for r in rows:
        out = table_answer(r["question"], [(1, r["context"])])
        if out is not None:
            answered += 1
            correct += r["ideal"].lower() in out[0].lower()
    # WikiTableQuestions-style questions: few are simple enough, but those answered are mostly right.
    assert answered >= 8 and correct / answered >= 0.75
