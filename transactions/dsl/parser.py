"""Parse a Gold DSL program (SEMANTICS.md §2) into a ``transactions.spec.TransactionSpec``.

The grammar lives in ``gold.lark`` next to this module and is compiled once, at import, into
a lark LALR parser. ``parse_gold`` is the only entry point; whatever the input, it either
returns a spec or raises ``GoldError`` (code ``0048`` for a malformed program, ``0049`` for an
empty one). Pure Python: no Django import.
"""

from __future__ import annotations

from decimal import Decimal
from importlib.resources import files
from typing import Any

from lark import Lark, Token, Transformer, Tree
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)
from lark.lexer import PatternStr

from transactions.spec import DEFAULT_BALANCE_KEY, Entry, Rate, Share, TransactionSpec

__all__ = ["CODE_EMPTY", "CODE_INVALID", "MAX_INPUT_BYTES", "GoldError", "parse_gold"]

CODE_INVALID = "0048"
CODE_EMPTY = "0049"

# Refuse anything larger than this before lexing it (a real program is a few kilobytes).
MAX_INPUT_BYTES = 1024 * 1024
# Longest integer literal accepted. Far beyond any real amount; it keeps int() conversion
# (limited to 4300 digits by Python) and later decimal arithmetic away from absurd sizes.
MAX_NUMBER_DIGITS = 100

# The characters the lexer skips (the WS terminal of gold.lark).
_WHITESPACE = " \t\r\n\f\v"

# The lookahead that makes a keyword terminal of gold.lark match whole words only.
_KEYWORD_END = r"(?![a-zA-Z0-9_\-\/])"

# How terminals that are not keywords or punctuation are named in error messages.
_TERMINAL_NAMES = {
    "$END": "end of input",
    "<END-OF-FILE>": "end of input",
    "INT": "an integer",
    "WORD": "an identifier",
    "ALIAS": "an @alias",
    "VARIABLE": "a $variable",
    "STRING": 'a "string"',
}


class GoldError(Exception):
    """A Gold program that cannot be turned into a transaction.

    ``code`` is the Midaz error code (``0048`` invalid, ``0049`` empty); ``line`` and
    ``column`` (1-based) locate the problem when it has a position, else they are None.
    """

    def __init__(
        self, code: str, message: str, line: int | None = None, column: int | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.line = line
        self.column = column

    def __repr__(self) -> str:
        return f"GoldError(code={self.code!r}, message={self.message!r})"


def _invalid_at(line: int, column: int, what: str) -> GoldError:
    return GoldError(CODE_INVALID, f"line {line}, column {column}: {what}", line, column)


_GRAMMAR = files(__package__ or "transactions.dsl").joinpath("gold.lark").read_text("utf-8")
_PARSER = Lark(
    _GRAMMAR,
    parser="lalr",
    lexer="contextual",
    maybe_placeholders=True,
    propagate_positions=False,
)


def _describe_terminal(name: str) -> str:
    if name in _TERMINAL_NAMES:
        return _TERMINAL_NAMES[name]
    try:
        pattern = _PARSER.get_terminal(name).pattern
    except KeyError:  # pragma: no cover - every name comes from the grammar
        return name
    if isinstance(pattern, PatternStr):
        return repr(pattern.value)
    if pattern.value.endswith(_KEYWORD_END):
        return repr(pattern.value.removesuffix(_KEYWORD_END))
    return name  # pragma: no cover - every other regex terminal is in _TERMINAL_NAMES


def _describe_expected(names: set[str] | frozenset[str] | None) -> str:
    if not names:
        return ""
    described = sorted({_describe_terminal(n) for n in names if n != "WS"})
    if not described:
        return ""
    if len(described) == 1:
        return f", expected {described[0]}"
    return f", expected one of {', '.join(described)}"


def _show(text: str, limit: int = 40) -> str:
    """A short, printable quotation of some source text for an error message."""
    shown = text if len(text) <= limit else text[:limit] + "..."
    return repr(shown)


def _end_position(text: str) -> tuple[int, int]:
    line = text.count("\n") + 1
    column = len(text) - (text.rfind("\n") + 1) + 1
    return line, column


def _syntax_error(exc: UnexpectedInput, text: str) -> GoldError:
    if isinstance(exc, UnexpectedToken):
        token = exc.token
        if token.type == "$END":
            line, column = _end_position(text)
            return _invalid_at(
                line, column, "unexpected end of input" + _describe_expected(exc.expected)
            )
        line = token.line if token.line is not None else exc.line
        column = token.column if token.column is not None else exc.column
        return _invalid_at(
            line,
            column,
            f"unexpected token {_show(str(token))}" + _describe_expected(exc.expected),
        )
    if isinstance(exc, UnexpectedCharacters):
        return _invalid_at(
            exc.line,
            exc.column,
            f"unexpected character {_show(exc.char)}" + _describe_expected(exc.allowed),
        )
    if isinstance(exc, UnexpectedEOF):
        line, column = _end_position(text)
        return _invalid_at(
            line, column, "unexpected end of input" + _describe_expected(set(exc.expected))
        )
    line, column = exc.line, exc.column  # pragma: no cover - lark has no other kinds
    return _invalid_at(line, column, "syntax error")  # pragma: no cover


def _digits(token: Token) -> str:
    value = str(token)
    if len(value) > MAX_NUMBER_DIGITS:
        raise _invalid_at(
            token.line or 0,
            token.column or 0,
            f"number too long (more than {MAX_NUMBER_DIGITS} digits)",
        )
    return value


def _unquote(token: Token) -> str:
    return str(token)[1:-1]


class _Number:
    """A numeric literal: an integer, or a $variable (never substituted, so it reads as 0)."""

    __slots__ = ("digits",)

    def __init__(self, digits: str) -> None:
        self.digits = digits

    def as_decimal(self) -> Decimal:
        return Decimal(self.digits)

    def as_int(self) -> int:
        return int(self.digits)


class _EntryParts:
    """What an entry clause carries, before it becomes an ``Entry``."""

    __slots__ = ("account", "fields")

    def __init__(self, account: str, fields: dict[str, Any]) -> None:
        self.account = account
        self.fields = fields

    def to_entry(self) -> Entry:
        return Entry(account_alias=self.account, balance_key=DEFAULT_BALANCE_KEY, **self.fields)


class _SpecBuilder(Transformer[Token, TransactionSpec]):
    """Turns the parse tree into a ``TransactionSpec`` (one method per grammar rule)."""

    # ---- leaves -------------------------------------------------------------------------

    def number(self, children: list[Token]) -> _Number:
        (token,) = children
        if token.type == "VARIABLE":
            return _Number("0")
        return _Number(_digits(token))

    def amount(self, children: list[_Number]) -> Decimal:
        value, _scale = children  # the scale after '|' is ignored (SEMANTICS.md §2.3)
        return value.as_decimal()

    def rate_value(self, children: list[_Number]) -> Decimal:
        # A rate converts amounts (transactions/conversion.py), so its scale counts, as in
        # the asset-rate registry: 92|2 is 0.92.
        # Built exactly from its digits: scaleb() would round to the default context's 28
        # digits (this package keeps clear of Django, so not transactions.resolve.EXACT).
        value, scale = children
        return Decimal(f"{value.digits}E{-scale.as_int()}")

    def account(self, children: list[Token]) -> str:
        return str(children[0])

    def boolean(self, children: list[Token]) -> bool:
        return children[0].type == "TRUE"

    def meta_word(self, children: list[Token]) -> str:
        return str(children[0])

    def pair(self, children: list[str]) -> tuple[str, str]:
        key, value = children
        return key, value

    def metadata(self, children: list[tuple[str, str]]) -> dict[str, str]:
        return dict(children)

    # ---- transaction-level clauses -------------------------------------------------------

    def group_name(self, children: list[Token]) -> str:
        return str(children[0])

    def tx_description(self, children: list[Token]) -> str:
        return _unquote(children[0])

    def tx_code(self, children: list[Token]) -> str:
        return str(children[0])

    def tx_pending(self, children: list[bool]) -> bool:
        return children[0]

    # ---- entries -------------------------------------------------------------------------

    def by_amount(self, children: list[Any]) -> dict[str, Any]:
        asset, value = children
        return {"amount": value, "amount_asset": str(asset)}

    def by_share_of(self, children: list[_Number]) -> dict[str, Any]:
        percentage, of = children
        return {"share": Share(percentage.as_int(), of.as_int())}

    def by_share(self, children: list[_Number]) -> dict[str, Any]:
        return {"share": Share(children[0].as_int(), 0)}

    def by_remaining(self, children: list[Token]) -> dict[str, Any]:
        return {"remaining": True}

    def rate(self, children: list[Any]) -> Rate:
        external_id, from_asset, to_asset, value = children
        return Rate(str(from_asset), str(to_asset), value, str(external_id))

    def entry_description(self, children: list[Token]) -> str:
        return _unquote(children[0])

    def entry_chart(self, children: list[Token]) -> str:
        return str(children[0])

    def _entry(self, children: list[Any]) -> _EntryParts:
        account, send_type, rate, description, chart, metadata = children
        fields = dict(send_type)
        fields.update(
            rate=rate, description=description, chart_of_accounts=chart, metadata=metadata
        )
        return _EntryParts(account, fields)

    def from_entry(self, children: list[Any]) -> _EntryParts:
        return self._entry(children)

    def to_entry(self, children: list[Any]) -> _EntryParts:
        return self._entry(children)

    def source(self, children: list[Any]) -> tuple[Entry, ...]:
        # children[0] is the group-level ':remaining' (or None); it has no effect.
        return tuple(part.to_entry() for part in children[1:])

    def distribute(self, children: list[Any]) -> tuple[Entry, ...]:
        return tuple(part.to_entry() for part in children[1:])

    def send(self, children: list[Any]) -> dict[str, Any]:
        asset, value, sources, destinations = children
        return {
            "asset": str(asset),
            "value": value,
            "sources": sources,
            "destinations": destinations,
        }

    def start(self, children: list[Any]) -> TransactionSpec:
        group, description, code, pending, metadata, send = children
        return TransactionSpec(
            chart_of_accounts_group_name=group,
            description=description,
            code=code,
            pending=bool(pending),
            metadata=metadata if metadata is not None else {},
            **send,
        )


_BUILDER = _SpecBuilder()


def _parse(text: str) -> TransactionSpec:
    if not isinstance(text, str):
        raise GoldError(CODE_INVALID, "the DSL file must be text")
    if len(text) > MAX_INPUT_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_INPUT_BYTES:
        raise GoldError(CODE_INVALID, f"the DSL file is larger than {MAX_INPUT_BYTES} bytes")
    if not text.strip(_WHITESPACE):
        raise GoldError(CODE_EMPTY, "the DSL file is empty")
    try:
        tree: Tree[Token] = _PARSER.parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text) from None
    try:
        return _BUILDER.transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, GoldError):
            raise exc.orig_exc from None
        raise


def parse_gold(text: str) -> TransactionSpec:
    """Parse a Gold program into a ``TransactionSpec``; raise ``GoldError`` if it is not one.

    The grammar has no recursion, so nesting deeper than a valid program is rejected at the
    first surplus parenthesis; inputs above ``MAX_INPUT_BYTES`` are refused before lexing.
    """
    try:
        return _parse(text)
    except GoldError:
        raise
    except Exception as exc:  # a last safety net: never let a library error escape
        raise GoldError(
            CODE_INVALID, f"internal error while reading the DSL file ({type(exc).__name__})"
        ) from exc
