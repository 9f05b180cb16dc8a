"""Property tests of ``parse_gold`` with Hypothesis: arbitrary text and mutated programs only
ever raise ``GoldError`` (0048/0049), and generated valid programs parse to the spec they
were generated from."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transactions.dsl import GoldError, parse_gold
from transactions.spec import Entry, Rate, Share, TransactionSpec

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

VALID_PROGRAMS = [
    "(transaction V1 (chart-of-accounts-group-name P2P) (send USD 250|0 (source (from @alice "
    ":amount USD 250|0)) (distribute (to @bob :amount USD 250|0))))",
    '(transaction V1 (chart-of-accounts-group-name SPLIT) (description "split") (send BRL '
    "1000|0 (source (from @alice :amount BRL 1000|0)) (distribute (to @bob :share 50) "
    "(to @carol :share 50 :of 50) (to @dave :remaining))))",
    "(transaction V1 (chart-of-accounts-group-name HOLD) (pending true) (send USD 30|0 "
    "(source (from @alice :amount USD 30|0)) (distribute (to @shop :amount USD 30|0))))",
    '(transaction-template V1 (chart-of-accounts-group-name G) (description "all") (code C1) '
    "(pending false) (metadata (k v) (n 1)) (send USD 100|2 (source :remaining (from $src "
    ':amount USD 100|2 (rate fx USD -> BRL 5|0) (description "out") (chart-of-accounts 1100) '
    "(metadata (a b)))) (distribute :remaining (to @b :share 10 :of 20) (to acct-1 :remaining))))",
]

TOKENS = re.compile(r'"[^"]*"|[()|]|[^\s()|"]+')
WHITESPACE = " \t\r\n\f\v"


def check(text: str) -> TransactionSpec | None:
    """Parse ``text``; only a spec or a well-formed GoldError may come out."""
    try:
        spec = parse_gold(text)
    except GoldError as exc:
        error = exc
    else:
        assert isinstance(spec, TransactionSpec)
        return spec
    assert error.code in {"0048", "0049"}
    assert not error.message.startswith("internal error"), error.message
    if error.code == "0049":
        assert not text.strip(WHITESPACE)
    if error.line is not None:
        assert error.message.startswith(f"line {error.line}, column {error.column}: ")
        assert error.line >= 1
        assert error.column is not None
        assert error.column >= 1
    return None


# ---- (a) arbitrary text --------------------------------------------------------------------

gold_pieces = st.sampled_from(
    [
        "(",
        ")",
        "|",
        "->",
        " ",
        "\n",
        '"',
        "V1",
        "transaction",
        "send",
        "source",
        "from",
        "to",
        "distribute",
        ":amount",
        ":share",
        ":of",
        ":remaining",
        "@a",
        "$v",
        "USD",
        "10",
        "0",
        "rate",
        "metadata",
        "\x00",
        "é",
        "\U0001f4b0",
        "\ud800",
    ]
)


@FUZZ
@given(st.text())
def test_arbitrary_unicode_text(text: str) -> None:
    check(text)


@FUZZ
@given(st.lists(gold_pieces, max_size=60).map("".join))
def test_arbitrary_gold_like_text(text: str) -> None:
    check(text)


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=1, max_value=50_000), st.sampled_from(["(", "((x ", "(send "]))
def test_deep_nesting(depth: int, opener: str) -> None:
    check(opener * depth + ")" * depth)


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=1, max_value=300_000), st.sampled_from(["a", "1", " ", "\x00", "("]))
def test_very_long_text(length: int, char: str) -> None:
    check(char * length)
    check(VALID_PROGRAMS[0][:-1] + char * length + ")")


# ---- (b) mutations of valid programs -------------------------------------------------------

Mutation = Callable[[list[str], int, int], list[str]]


def _delete(items: list[str], i: int, _j: int) -> list[str]:
    return items[:i] + items[i + 1 :]


def _duplicate(items: list[str], i: int, _j: int) -> list[str]:
    return items[: i + 1] + items[i:]


def _swap(items: list[str], i: int, j: int) -> list[str]:
    items = list(items)
    items[i], items[j] = items[j], items[i]
    return items


def _move(items: list[str], i: int, j: int) -> list[str]:
    items = list(items)
    items.insert(j, items.pop(i))
    return items


MUTATIONS: list[Mutation] = [_delete, _duplicate, _swap, _move]


@st.composite
def mutated_programs(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(VALID_PROGRAMS))
    by_token = draw(st.booleans())
    items = TOKENS.findall(text) if by_token else list(text)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        if not items:
            break
        index = st.integers(min_value=0, max_value=len(items) - 1)
        mutate = draw(st.sampled_from(MUTATIONS))
        items = mutate(items, draw(index), draw(index))
    if draw(st.booleans()):
        extra = draw(st.sampled_from(["(", ")", "|", " ", '"', "x", "9", "\x00", ":of"]))
        position = draw(st.integers(min_value=0, max_value=len(items)))
        items.insert(position, extra)
    return (" " if by_token else "").join(items)


@FUZZ
@given(mutated_programs())
def test_mutated_programs(text: str) -> None:
    check(text)


# ---- (c) round trip of generated programs ----------------------------------------------------

WORD = st.from_regex(r"[a-zA-Z0-9_/-]{1,10}", fullmatch=True)
ALIAS = st.from_regex(r"@[a-zA-Z0-9_/-]{0,12}", fullmatch=True)
VARIABLE = st.from_regex(r"\$[a-zA-Z0-9_-]{0,8}", fullmatch=True)
ACCOUNT = st.one_of(ALIAS, VARIABLE, WORD)
TEXT = st.text(st.characters(exclude_characters='"'), max_size=20)
INTS = st.integers(min_value=0, max_value=10**30)
SCALE = st.integers(min_value=0, max_value=18)
METADATA = st.dictionaries(WORD, WORD, min_size=1, max_size=3)


def _amount(draw: st.DrawFn, value: int) -> str:
    """Render ``value`` as VALUE|SCALE with a random (ignored) scale and leading zeros."""
    zeros = "0" * draw(st.integers(min_value=0, max_value=2))
    return f"{zeros}{value}|{draw(SCALE)}"


def _metadata(pairs: dict[str, str]) -> str:
    return "(metadata " + " ".join(f"({k} {v})" for k, v in pairs.items()) + ")"


@st.composite
def entries(draw: st.DrawFn, keyword: str) -> tuple[str, Entry]:
    account = draw(ACCOUNT)
    kind = draw(st.sampled_from(["amount", "share", "share_of", "remaining"]))
    fields: dict[str, object] = {}
    if kind == "amount":
        asset, value = draw(WORD), draw(INTS)
        send_type = f":amount {asset} {_amount(draw, value)}"
        fields.update(amount=Decimal(value), amount_asset=asset)
    elif kind == "share":
        p = draw(st.integers(min_value=0, max_value=100))
        send_type = f":share {p}"
        fields["share"] = Share(p, 0)
    elif kind == "share_of":
        p, q = draw(st.integers(0, 100)), draw(st.integers(0, 100))
        send_type = f":share {p} :of {q}"
        fields["share"] = Share(p, q)
    else:
        send_type = ":remaining"
        fields["remaining"] = True
    clauses = []
    if draw(st.booleans()):
        ext, src, dst, value = draw(WORD), draw(WORD), draw(WORD), draw(INTS)
        arrow = draw(st.sampled_from([" -> ", "->"]))
        scale = draw(SCALE)
        zeros = "0" * draw(st.integers(min_value=0, max_value=2))
        clauses.append(f"(rate {ext} {src}{arrow}{dst} {zeros}{value}|{scale})")
        # Exactly value x 10^-scale (scaleb() would round to 28 digits).
        fields["rate"] = Rate(src, dst, Decimal(f"{value}E{-scale}"), ext)
    if draw(st.booleans()):
        description = draw(TEXT)
        clauses.append(f'(description "{description}")')
        fields["description"] = description
    if draw(st.booleans()):
        chart = draw(WORD)
        clauses.append(f"(chart-of-accounts {chart})")
        fields["chart_of_accounts"] = chart
    if draw(st.booleans()):
        metadata = draw(METADATA)
        clauses.append(_metadata(metadata))
        fields["metadata"] = metadata
    text = " ".join([f"({keyword} {account} {send_type}", *clauses]) + ")"
    return text, Entry(account_alias=account, **fields)  # type: ignore[arg-type]


@st.composite
def programs(draw: st.DrawFn) -> tuple[str, TransactionSpec]:
    group, asset, value = draw(WORD), draw(WORD), draw(INTS)
    header = []
    description = code = None
    metadata: dict[str, str] = {}
    if draw(st.booleans()):
        description = draw(TEXT)
        header.append(f'(description "{description}")')
    if draw(st.booleans()):
        code = draw(WORD)
        header.append(f"(code {code})")
    pending = draw(st.sampled_from([None, True, False]))
    if pending is not None:
        header.append(f"(pending {'true' if pending else 'false'})")
    if draw(st.booleans()):
        metadata = draw(METADATA)
        header.append(_metadata(metadata))
    sources = draw(st.lists(entries("from"), min_size=1, max_size=3))
    destinations = draw(st.lists(entries("to"), min_size=1, max_size=3))
    source_flag = draw(st.sampled_from(["", ":remaining "]))
    destination_flag = draw(st.sampled_from(["", ":remaining "]))
    kind = draw(st.sampled_from(["transaction", "transaction-template"]))
    parts = [
        f"({kind} V1 (chart-of-accounts-group-name {group})",
        *header,
        f"(send {asset} {_amount(draw, value)}",
        f"(source {source_flag}" + " ".join(t for t, _ in sources) + ")",
        f"(distribute {destination_flag}" + " ".join(t for t, _ in destinations) + ")))",
    ]
    separator = draw(st.sampled_from([" ", "\n", "\n  ", "\t", " \r\n "]))
    spec = TransactionSpec(
        asset=asset,
        value=Decimal(value),
        sources=tuple(e for _, e in sources),
        destinations=tuple(e for _, e in destinations),
        description=description,
        code=code,
        chart_of_accounts_group_name=group,
        pending=bool(pending),
        metadata=metadata,
    )
    return separator.join(parts), spec


@FUZZ
@given(programs())
def test_generated_programs_round_trip(generated: tuple[str, TransactionSpec]) -> None:
    text, expected = generated
    assert parse_gold(text) == expected
