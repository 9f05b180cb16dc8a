"""Example-based tests of ``parse_gold``: SEMANTICS.md §2.4 E1-E4, §14 TV31/TV32, every optional
clause, lexer edge cases and the 0048/0049 errors with their positions."""

from __future__ import annotations

import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from transactions.dsl import GoldError, parse_gold
from transactions.dsl.parser import MAX_INPUT_BYTES
from transactions.spec import Entry, Rate, Share, TransactionSpec

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def amount(alias: str, value: int | str, asset: str = "USD") -> Entry:
    return Entry(account_alias=alias, amount=Decimal(value), amount_asset=asset)


SIMPLE_SEND = "(send USD 10|0 (source (from @a :amount USD 10|0)) (distribute (to @b :remaining)))"


def program(
    send: str = SIMPLE_SEND,
    header: str = "",
    group: str = "(chart-of-accounts-group-name G)",
    kind: str = "transaction",
) -> str:
    return f"({kind} V1 {group} {header} {send})"


def entry_program(entry: str) -> str:
    """A program whose only source entry is ``entry`` (to check the entry-level clauses)."""
    return program(f"(send USD 10|0 (source {entry}) (distribute (to @b :remaining)))")


def error_of(text: str) -> GoldError:
    with pytest.raises(GoldError) as info:
        parse_gold(text)
    return info.value


def syntax_error(text: str) -> GoldError:
    """The 0048 error of ``text``; its message must start with its own line and column."""
    err = error_of(text)
    assert err.code == "0048", err.message
    assert err.line is not None
    assert err.column is not None
    assert err.message.startswith(f"line {err.line}, column {err.column}: "), err.message
    return err


# ---- the examples of SEMANTICS.md §2.4 and the vectors of §14 -------------------------------


def test_e1_simple_transfer() -> None:
    text = (
        "(transaction V1 (chart-of-accounts-group-name P2P) (send USD 250|0 "
        "(source (from @alice :amount USD 250|0)) (distribute (to @bob :amount USD 250|0))))"
    )
    assert parse_gold(text) == TransactionSpec(
        asset="USD",
        value=Decimal(250),
        sources=(amount("@alice", 250),),
        destinations=(amount("@bob", 250),),
        chart_of_accounts_group_name="P2P",
    )


def test_e2_split_with_share_of_share_and_remaining() -> None:
    text = (
        '(transaction V1 (chart-of-accounts-group-name SPLIT) (description "split") '
        "(send BRL 1000|0 (source (from @alice :amount BRL 1000|0)) (distribute "
        "(to @bob :share 50) (to @carol :share 50 :of 50) (to @dave :remaining))))"
    )
    assert parse_gold(text) == TransactionSpec(
        asset="BRL",
        value=Decimal(1000),
        sources=(amount("@alice", 1000, "BRL"),),
        destinations=(
            Entry(account_alias="@bob", share=Share(50, 0)),
            Entry(account_alias="@carol", share=Share(50, 50)),
            Entry(account_alias="@dave", remaining=True),
        ),
        description="split",
        chart_of_accounts_group_name="SPLIT",
    )


def test_e3_pending_hold() -> None:
    text = (
        "(transaction V1 (chart-of-accounts-group-name HOLD) (pending true) (send USD 30|0 "
        "(source (from @alice :amount USD 30|0)) (distribute (to @shop :amount USD 30|0))))"
    )
    assert parse_gold(text) == TransactionSpec(
        asset="USD",
        value=Decimal(30),
        sources=(amount("@alice", 30),),
        destinations=(amount("@shop", 30),),
        chart_of_accounts_group_name="HOLD",
        pending=True,
    )


def test_e4_legacy_scale_is_ignored() -> None:
    text = (
        "(transaction V1 (chart-of-accounts-group-name X) (send USD 100|2 "
        "(source (from @a :amount USD 100|2)) (distribute (to @b :amount USD 100|2))))"
    )
    spec = parse_gold(text)
    assert spec == TransactionSpec(
        asset="USD",
        value=Decimal(100),
        sources=(amount("@a", 100),),
        destinations=(amount("@b", 100),),
        chart_of_accounts_group_name="X",
    )
    assert spec.value != Decimal("1.00")


def test_tv31_funding() -> None:
    text = (
        "(transaction V1 (chart-of-accounts-group-name FUNDING) (send USD 3|0 "
        "(source (from @A :amount USD 3|0)) (distribute (to @B :amount USD 3|0))))"
    )
    assert parse_gold(text) == TransactionSpec(
        asset="USD",
        value=Decimal(3),
        sources=(amount("@A", 3),),
        destinations=(amount("@B", 3),),
        chart_of_accounts_group_name="FUNDING",
    )


@pytest.mark.parametrize("scale", ["0", "2", "9", "18"])
def test_tv32_scale_is_dropped(scale: str) -> None:
    text = program(
        f"(send USD 100|{scale} (source (from @a :amount USD 100|{scale})) "
        "(distribute (to @b :remaining)))"
    )
    spec = parse_gold(text)
    assert spec.value == Decimal(100)
    assert spec.sources[0].amount == Decimal(100)


def test_midaz_api_constructed_example() -> None:
    text = (
        "(transaction V1 (chart-of-accounts-group-name G1) (send USD 100|0 "
        "(source (from @alice :amount USD 100|0)) (distribute (to @bob :remaining))))"
    )
    assert parse_gold(text) == TransactionSpec(
        asset="USD",
        value=Decimal(100),
        sources=(amount("@alice", 100),),
        destinations=(Entry(account_alias="@bob", remaining=True),),
        chart_of_accounts_group_name="G1",
    )


# ---- transaction-level optional clauses -----------------------------------------------------


def test_minimal_program_defaults() -> None:
    spec = parse_gold(program())
    assert spec.description is None
    assert spec.code is None
    assert spec.pending is False
    assert spec.metadata == {}
    assert spec.transaction_date is None
    assert spec.route is None
    assert all(e.balance_key == "default" for e in spec.sources + spec.destinations)


def test_transaction_template_parses_like_transaction() -> None:
    assert parse_gold(program(kind="transaction-template")) == parse_gold(program())


def test_description() -> None:
    spec = parse_gold(program(header='(description "Rent (May), 2nd part")'))
    assert spec.description == "Rent (May), 2nd part"


def test_description_keeps_unicode_newlines_and_empty_text() -> None:
    assert (
        parse_gold(program(header='(description "é\n\t日本 ;; ")')).description == "é\n\t日本 ;; "
    )
    assert parse_gold(program(header='(description "")')).description == ""


def test_code() -> None:
    assert parse_gold(program(header="(code PIX-2024/05_a)")).code == "PIX-2024/05_a"


@pytest.mark.parametrize(("word", "expected"), [("true", True), ("false", False)])
def test_pending(word: str, expected: bool) -> None:
    assert parse_gold(program(header=f"(pending {word})")).pending is expected


def test_metadata_values_are_strings() -> None:
    spec = parse_gold(program(header="(metadata (k v) (n 42) (7 seven) (007 x-y/z))"))
    assert spec.metadata == {"k": "v", "n": "42", "7": "seven", "007": "x-y/z"}


def test_metadata_repeated_key_keeps_the_last_value() -> None:
    assert parse_gold(program(header="(metadata (k 1) (k 2))")).metadata == {"k": "2"}


def test_all_transaction_clauses_in_order() -> None:
    header = '(description "d") (code C1) (pending true) (metadata (a b))'
    spec = parse_gold(program(header=header))
    assert (spec.description, spec.code, spec.pending, spec.metadata) == (
        "d",
        "C1",
        True,
        {"a": "b"},
    )
    assert spec.chart_of_accounts_group_name == "G"


# ---- send types and entry-level optional clauses --------------------------------------------


def test_send_types() -> None:
    text = program(
        "(send USD 100|0 (source (from @a :amount USD 60|0) (from @b :share 25) "
        "(from @c :share 10 :of 50) (from @d :remaining)) (distribute (to @e :remaining)))"
    )
    assert parse_gold(text).sources == (
        amount("@a", 60),
        Entry(account_alias="@b", share=Share(25, 0)),
        Entry(account_alias="@c", share=Share(10, 50)),
        Entry(account_alias="@d", remaining=True),
    )


def test_amount_keeps_its_own_asset() -> None:
    entry = parse_gold(entry_program("(from @a :amount BRL 5|0)")).sources[0]
    assert (entry.amount, entry.amount_asset) == (Decimal(5), "BRL")


def test_entry_rate() -> None:
    entry = parse_gold(entry_program("(from @a :amount USD 10|0 (rate fx-1 USD -> BRL 5|0))"))
    assert entry.sources[0].rate == Rate("USD", "BRL", Decimal(5), "fx-1")


def test_entry_rate_arrow_without_spaces() -> None:
    spec = parse_gold(entry_program("(from @a :remaining (rate id1 USD->BRL 7|2))"))
    # A rate's scale counts (it converts amounts), unlike an amount's.
    assert spec.sources[0].rate == Rate("USD", "BRL", Decimal("0.07"), "id1")


def test_entry_description_chart_and_metadata() -> None:
    entry = parse_gold(
        entry_program(
            '(from @a :amount USD 10|0 (description "out") (chart-of-accounts 1100) '
            "(metadata (k v) (n 1)))"
        )
    ).sources[0]
    assert entry.description == "out"
    assert entry.chart_of_accounts == "1100"
    assert entry.metadata == {"k": "v", "n": "1"}
    assert entry.rate is None


def test_every_entry_clause_on_a_destination() -> None:
    text = program(
        "(send USD 10|0 (source (from @a :amount USD 10|0)) (distribute (to @b :amount USD 10|0 "
        '(rate r1 USD -> EUR 3|0) (description "in") (chart-of-accounts C) (metadata (x y)))))'
    )
    assert parse_gold(text).destinations == (
        Entry(
            account_alias="@b",
            amount=Decimal(10),
            amount_asset="USD",
            rate=Rate("USD", "EUR", Decimal(3), "r1"),
            description="in",
            chart_of_accounts="C",
            metadata={"x": "y"},
        ),
    )


def test_group_level_remaining_is_accepted_and_ignored() -> None:
    plain = program()
    flagged = program(
        "(send USD 10|0 (source :remaining (from @a :amount USD 10|0)) "
        "(distribute :remaining (to @b :remaining)))"
    )
    assert parse_gold(flagged) == parse_gold(plain)


def test_account_forms() -> None:
    text = program(
        "(send USD 10|0 (source (from @external/USD :remaining) (from $payer :remaining) "
        "(from plain-id_1 :remaining) (from @ :remaining)) (distribute (to $x :remaining)))"
    )
    spec = parse_gold(text)
    assert [e.account_alias for e in spec.sources] == ["@external/USD", "$payer", "plain-id_1", "@"]
    assert spec.destinations[0].account_alias == "$x"


def test_variables_in_value_positions_read_as_zero() -> None:
    text = program(
        "(send USD $total|0 (source (from @a :amount USD $v|$s) (from @b :share $p :of $q)) "
        "(distribute (to @c :remaining)))"
    )
    spec = parse_gold(text)
    assert spec.value == Decimal(0)
    assert spec.sources[0].amount == Decimal(0)
    assert spec.sources[1].share == Share(0, 0)


# ---- lexer edge cases ----------------------------------------------------------------------


def test_whitespace_is_free_form() -> None:
    compact = program()
    spread = (
        "\n\t( transaction\r\n V1\f(chart-of-accounts-group-name\tG )\n(send USD 10 | 0\n"
        "  ( source ( from @a :amount USD 10|0 ) )\v(distribute(to @b :remaining))) )\n\n"
    )
    assert parse_gold(spread) == parse_gold(compact)


def test_leading_zeros_are_the_same_number() -> None:
    spec = parse_gold(entry_program("(from @a :amount USD 0010|00)"))
    assert spec.sources[0].amount == Decimal(10)


def test_numbers_are_exact_decimals() -> None:
    big = "123456789012345678901234567890123456789"
    spec = parse_gold(entry_program(f"(from @a :amount USD {big}|0)"))
    assert spec.sources[0].amount == Decimal(big)
    assert str(spec.sources[0].amount) == big


def test_keyword_spellings_are_identifiers_where_only_an_identifier_fits() -> None:
    text = (
        "(transaction V1 (chart-of-accounts-group-name send) (code from) (send code 1|0 "
        "(source (from to :amount source 1|0)) (distribute (to from :remaining))))"
    )
    spec = parse_gold(text)
    assert spec.chart_of_accounts_group_name == "send"
    assert spec.code == "from"
    assert spec.asset == "code"
    assert spec.sources[0] == Entry(account_alias="to", amount=Decimal(1), amount_asset="source")
    assert spec.destinations[0].account_alias == "from"


def test_digit_only_identifiers() -> None:
    spec = parse_gold(program(group="(chart-of-accounts-group-name 123)", header="(code 0042)"))
    assert spec.chart_of_accounts_group_name == "123"
    assert spec.code == "0042"


def test_word_starting_with_digits_is_one_identifier() -> None:
    spec = parse_gold(program(header="(metadata (100abc 2x) (k-1 9/9))"))
    assert spec.metadata == {"100abc": "2x", "k-1": "9/9"}


@pytest.mark.parametrize(
    "text",
    [
        "(transactionV1 (chart-of-accounts-group-name G))",
        "(transaction V1x (chart-of-accounts-group-name G))",
        program(header="(codex C)"),
        program(header="(pending truex)"),
        program(header="(pending TRUE)"),
        entry_program("(fromage @a :remaining)"),
        entry_program("(from @a :remainingx)"),
        entry_program("(from @a :amountUSD 1|0)"),
        entry_program("(from @a :amount USD 100abc|0)"),
        entry_program("(from @a :amount USD 1.5|0)"),
        entry_program("(from @a :amount USD -5|0)"),
        entry_program("(from @a :amount USD 5)"),
        entry_program("(from @a :share 5.5)"),
        entry_program("(from @a :share abc)"),
        program(header="(description unquoted)"),
        program(header='(description "no end)'),
        program(header="(metadata)"),
        program(header="(metadata (k))"),
        program(header="(metadata (k v w))"),
        program(header='(metadata (k "v"))'),
        program(header="(code)"),
    ],
)
def test_malformed_tokens_are_0048(text: str) -> None:
    syntax_error(text)


def test_number_too_long() -> None:
    err = syntax_error(entry_program(f"(from @a :share 1{'0' * 150})"))
    assert "too long" in err.message


# ---- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", " ", "\n\n", "\t \r\n\f\v "])
def test_empty_file_is_0049(text: str) -> None:
    err = error_of(text)
    assert err.code == "0049"
    assert err.line is None
    assert err.column is None


def test_error_attributes_and_str() -> None:
    err = syntax_error("(transaction V1 (chart-of-accounts-group-name G) (send USD 1|0 (source)")
    assert str(err) == err.message
    assert isinstance(err, Exception)


def test_missing_closing_parenthesis_points_at_end_of_input() -> None:
    text = program()[:-1] + "\n  "
    err = syntax_error(text)
    assert (err.line, err.column) == (2, 3)
    assert "unexpected end of input" in err.message
    assert "expected ')'" in err.message


def test_extra_closing_parenthesis() -> None:
    text = "(transaction V1\n(chart-of-accounts-group-name G)\n" + program()[47:] + ")"
    err = syntax_error(text)
    assert err.line == 3
    assert "unexpected token ')'" in err.message


def test_position_is_line_and_column_of_the_bad_token() -> None:
    text = "(transaction V1\n  (chart-of-accounts-group-name G)\n  (send USD 1|0 (source ))"
    err = syntax_error(text)
    assert (err.line, err.column) == (3, 25)
    assert err.message.startswith("line 3, column 25: unexpected token ')'")


def test_missing_chart_of_accounts_group_name() -> None:
    err = syntax_error(program(group=""))
    assert (err.line, err.column) == (1, 20)  # at "send", which cannot come first
    assert "expected 'chart-of-accounts-group-name'" in err.message


def test_group_name_needs_a_value() -> None:
    syntax_error(program(group="(chart-of-accounts-group-name)"))
    syntax_error(program(group='(chart-of-accounts-group-name "G")'))


@pytest.mark.parametrize("version", ["V2", "v1", "1", "V", ""])
def test_wrong_version(version: str) -> None:
    err = syntax_error(f"(transaction {version} (chart-of-accounts-group-name G))")
    assert err.column == (14 if version else 15)
    assert "'V1'" in err.message


@pytest.mark.parametrize(
    "text",
    [
        "(transfer V1 (chart-of-accounts-group-name G))",
        program(header="(memo x)"),
        program(
            send="(sends USD 1|0 (source (from @a :remaining)) (distribute (to @b :remaining)))"
        ),
        program(
            send="(send USD 1|0 (sources (from @a :remaining)) (distribute (to @b :remaining)))"
        ),
        program(send="(send USD 1|0 (source (to @a :remaining)) (distribute (to @b :remaining)))"),
        program(
            send="(send USD 1|0 (source (from @a :remaining)) (distribute (from @b :remaining)))"
        ),
        entry_program("(from @a :percent 5)"),
        entry_program("(from @a :remaining (chart-of-accounts-group-name G))"),
    ],
)
def test_bad_keyword(text: str) -> None:
    assert "unexpected" in syntax_error(text).message


@pytest.mark.parametrize(
    "header",
    [
        '(code C) (description "d")',
        "(pending true) (code C)",
        "(metadata (a b)) (pending true)",
        '(metadata (a b)) (description "d")',
        '(description "d") (description "e")',
    ],
)
def test_transaction_clauses_out_of_order_or_repeated(header: str) -> None:
    syntax_error(program(header=header))


def test_group_name_must_come_first() -> None:
    syntax_error(program(group='(description "d") (chart-of-accounts-group-name G)'))


@pytest.mark.parametrize(
    "clauses",
    [
        '(description "d") (rate r USD -> BRL 1|0)',
        '(chart-of-accounts C) (description "d")',
        "(metadata (a b)) (chart-of-accounts C)",
        "(metadata (a b)) (rate r USD -> BRL 1|0)",
    ],
)
def test_entry_clauses_out_of_order(clauses: str) -> None:
    syntax_error(entry_program(f"(from @a :remaining {clauses})"))


@pytest.mark.parametrize(
    "send",
    [
        "",
        "(send USD 1|0 (source (from @a :remaining)))",
        "(send USD 1|0 (distribute (to @b :remaining)))",
        "(send USD 1|0 (source) (distribute (to @b :remaining)))",
        "(send USD 1|0 (source (from @a :remaining)) (distribute))",
        "(send 1|0 (source (from @a :remaining)) (distribute (to @b :remaining)))",
        "(send USD (source (from @a :remaining)) (distribute (to @b :remaining)))",
        "(send USD 1|0 (source (from @a)) (distribute (to @b :remaining)))",
        "(send USD 1|0 (source (from :remaining)) (distribute (to @b :remaining)))",
        "(send USD 1|0 (distribute (to @b :remaining)) (source (from @a :remaining)))",
    ],
)
def test_incomplete_send(send: str) -> None:
    syntax_error(program(send=send))


def test_trailing_garbage_after_the_program() -> None:
    syntax_error(program() + " (transaction)")
    syntax_error(program() + " x")


def test_bad_characters() -> None:
    err = syntax_error(program(header="(code C#)"))
    assert "unexpected character '#'" in err.message
    assert "unexpected character '\\x00'" in syntax_error("\x00").message
    syntax_error("(transaction V1 (chart-of-accounts-group-name G€))")


def test_deep_nesting_is_rejected_early() -> None:
    err = syntax_error("(" * 100_000 + ")" * 100_000)
    assert (err.line, err.column) == (1, 2)


def test_input_over_one_megabyte_is_refused() -> None:
    text = program(header='(description "' + "x" * MAX_INPUT_BYTES + '")')
    err = error_of(text)
    assert err.code == "0048"
    assert err.line is None
    assert "larger than" in err.message


def test_multibyte_input_is_measured_in_bytes() -> None:
    text = program(header='(description "' + "é" * (MAX_INPUT_BYTES // 2 + 1) + '")')
    assert error_of(text).code == "0048"


def test_large_input_under_the_limit_still_parses() -> None:
    text = program(header='(description "' + "y" * (MAX_INPUT_BYTES - 500) + '")')
    assert parse_gold(text).description == "y" * (MAX_INPUT_BYTES - 500)


def test_long_token_is_shortened_in_the_message() -> None:
    err = syntax_error("(" + "a" * 5000)
    assert len(err.message) < 300
    assert re.search(r"unexpected token 'a+\.\.\.'", err.message)


# ---- purity --------------------------------------------------------------------------------


def test_dsl_package_imports_no_django() -> None:
    code = (
        "import sys; import transactions.dsl; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'django' "
        "or (m.startswith('transactions.') and m not in "
        "('transactions.dsl', 'transactions.dsl.parser', 'transactions.spec'))); "
        "assert not bad, bad"
    )
    subprocess.run(  # noqa: S603 - a fixed command line
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, check=True, env={"PYTHONPATH": "."}
    )
