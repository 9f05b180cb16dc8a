"""Hostile posting bodies over HTTP: JSON transaction bodies (json, inflow, outflow, annotation)
and Gold DSL uploads, generated and mutated by Hypothesis.

Whatever comes in, the answer is a 201 or a 4xx Midaz error (``code``, ``title``, ``message``)
and never a 500; a refused request leaves no transaction, no operation and every balance as it
was (Book.snapshot). A posting that is accepted must keep the ledger's invariants, which the
suite's ``verify_ledger`` hook checks after each test.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from midaz.error_codes import CATALOG
from tests.dsl.test_gold_fuzz import VALID_PROGRAMS, gold_pieces, mutated_programs
from tests.helpers import Api
from tests.transactions.book import Book, amt, send

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)

KINDS = ["json", "inflow", "outflow", "annotation"]


@pytest.fixture
def book(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Book:
    b = Book(api, ledger)
    b.account("@alice")
    b.account("@bob")
    b.fund("@alice", "1000")
    return b


def valid_body(kind: str, value: str = "1") -> dict[str, Any]:
    """A body the route accepts as it is."""
    body = send("USD", value, [amt("@alice", value)], [amt("@bob", value)])
    if kind == "inflow":
        del body["send"]["source"]
    elif kind == "outflow":
        del body["send"]["distribute"]
    return body


def dumps(value: Any) -> bytes:
    """JSON text of any generated value (orjson stops at 64-bit integers)."""
    return json.dumps(value, ensure_ascii=False).encode()


def post_raw(book: Book, kind: str, raw: bytes, **headers: str) -> Any:
    return book.api.request("POST", book.path(f"/transactions/{kind}"), raw=raw, **headers)


def check_answer(book: Book, before: list[Any], response: Any) -> dict[str, Any]:
    """201, or a Midaz 4xx after which nothing changed."""
    body = orjson.loads(response.content)
    if response.status_code == 201:
        assert body["id"]
        return body
    assert 400 <= response.status_code < 500, (response.status_code, body)
    assert body["code"] in CATALOG, body
    assert body["title"], body
    assert body["message"], body
    assert body["status"] == response.status_code
    assert book.snapshot() == before, "a refused request changed the ledger"
    return body


def refused(book: Book, before: list[Any], response: Any, *codes: str) -> dict[str, Any]:
    assert response.status_code != 201, response.content
    body = check_answer(book, before, response)
    if codes:
        assert body["code"] in codes, body
    return body


# ---- hostile values --------------------------------------------------------------------------

HUGE = 10**6
hostile_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63, max_value=2**200),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
    st.text(st.characters(codec="utf-8"), min_size=1).map(lambda s: s + "\x00"),
    st.sampled_from(
        [
            "",
            "0",
            "-1",
            "1e400",
            "1e-400",
            "NaN",
            "Infinity",
            "-Infinity",
            "0x10",
            "1_000",
            " 1 ",
            "١٢٣",  # Arabic-Indic digits
            "9" * 65,
            "0." + "0" * 63 + "1",
            "1" + "0" * HUGE,
            "\u202e\U0001f4b0",
            "a" * 300,
        ]
    ),
)
json_values = st.recursive(
    hostile_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def paths_of(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            found += paths_of(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += paths_of(v, (*prefix, i))
    return found


def put(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    copy = dict(node) if isinstance(node, dict) else list(node)
    copy[head] = put(node[head], rest, value) if rest else value
    return copy


@st.composite
def mutated_bodies(draw: st.DrawFn) -> tuple[str, Any]:
    """A valid body of a random route with one to three places replaced by hostile JSON, or a
    hostile key added."""
    kind = draw(st.sampled_from(KINDS))
    body: Any = valid_body(kind)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(paths_of(body)))
        if draw(st.booleans()) or not path:
            body = put(body, path, draw(json_values))
        else:
            parent = path[:-1]
            target: Any = body
            for step in parent:
                target = target[step]
            if isinstance(target, dict):
                key = draw(st.sampled_from(["metadata", "x\x00", "é" * 101, "amount", "send"]))
                body = put(body, (*parent, key), draw(json_values))
    return kind, body


@FUZZ
@given(mutated_bodies())
def test_mutated_json_bodies_are_posted_or_refused_cleanly(
    book: Book, case: tuple[str, Any]
) -> None:
    kind, body = case
    before = book.snapshot()
    check_answer(book, before, post_raw(book, kind, dumps(body)))


@FUZZ
@given(st.sampled_from(KINDS), json_values)
def test_arbitrary_json_is_refused(book: Book, kind: str, value: Any) -> None:
    before = book.snapshot()
    refused(book, before, post_raw(book, kind, dumps(value)))


RAW_TOKENS = [
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b'"send"',
    b'"value"',
    b'"asset"',
    b'"USD"',
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"1e999999",
    b"1" * 5000,
    b"0." + b"1" * 5000,
    b"null",
    b"true",
    b"\x00",
    b"\xff\xfe",
    b"\xc3\x28",
    b'"\\ud800"',
    b'"\\u0000"',
    b" ",
]


@FUZZ
@given(st.sampled_from(KINDS), st.lists(st.sampled_from(RAW_TOKENS), max_size=40).map(b"".join))
def test_raw_bytes_are_refused(book: Book, kind: str, raw: bytes) -> None:
    before = book.snapshot()
    refused(book, before, post_raw(book, kind, raw))


@pytest.mark.parametrize(
    "literal", [b"NaN", b"Infinity", b"-Infinity", b"1e999999999", b"-0", b'"1e-999999999"']
)
@pytest.mark.parametrize("kind", KINDS)
def test_non_finite_and_absurd_numbers(book: Book, kind: str, literal: bytes) -> None:
    raw = orjson.dumps(valid_body(kind, "1")).replace(b'"value":"1"', b'"value":' + literal)
    assert literal in raw
    before = book.snapshot()
    refused(book, before, post_raw(book, kind, raw), "0094", "0047", "0125", "0073")


# ---- documented limits ------------------------------------------------------------------------


def test_a_million_digit_amount_is_0047(book: Book) -> None:
    huge = "1" + "0" * HUGE
    before = book.snapshot()
    refused(book, before, book.post(valid_body("json", huge)), "0047")
    # The same as a JSON number: too long even to be read as one (0094), or too many digits.
    raw = orjson.dumps(valid_body("json", "1")).replace(b'"value":"1"', b'"value":' + huge.encode())
    refused(book, before, post_raw(book, "json", raw), "0094", "0047")
    raw = raw.replace(b'"value":1', b'"value":0.1')
    refused(book, before, post_raw(book, "json", raw), "0094", "0047")


def test_amount_digits_limit_is_exact(book: Book, settings: Any) -> None:
    settings.MAX_AMOUNT_DIGITS = 8
    before = book.snapshot()
    body = refused(book, before, book.post(valid_body("json", "1.00000001")), "0047")
    assert "at most 8 digits" in body["message"]
    refused(book, before, book.post(valid_body("json", "1e8")), "0047")
    refused(book, before, book.post(valid_body("json", "1.00000000")), "0047")
    # Eight digits pass.
    book.ok(book.post(valid_body("inflow", "0.00000001"), "inflow"))
    book.ok(book.post(valid_body("inflow", "1.0000000"), "inflow"))
    book.ok(book.post(valid_body("inflow", "12345678"), "inflow"))


def test_digits_limit_applies_to_rates_and_dsl(book: Book, client: Client, settings: Any) -> None:
    settings.MAX_AMOUNT_DIGITS = 8
    before = book.snapshot()
    body = valid_body("json")
    body["send"]["source"]["from"][0]["rate"] = {"from": "USD", "to": "BRL", "value": "1" * 9}
    refused(book, before, book.post(body), "0047")
    program = VALID_PROGRAMS[0].replace("250|0", "123456789|0")
    refused(book, before, upload(client, book, program), "0047")


def test_legs_limit(book: Book, settings: Any) -> None:
    settings.MAX_TRANSACTION_LEGS = 4
    before = book.snapshot()
    five = send("USD", "4", [amt("@alice", "4")], [amt("@bob", "1")] * 4)
    body = refused(book, before, book.post(five), "0047")
    assert "at most 4 entries" in body["message"]
    four = send("USD", "3", [amt("@alice", "3")], [amt("@bob", "1")] * 3)
    book.ok(book.post(four))


def test_oversized_body_is_413_0143(book: Book, settings: Any) -> None:
    before = book.snapshot()
    body = valid_body("json")
    body["description"] = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    response = book.post(body)
    refused(book, before, response, "0143")
    assert response.status_code == 413
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body["description"] = "x" * 1024
    assert refused(book, before, book.post(body), "0143")["status"] == 413
    body["description"] = "short"
    book.ok(book.post(body))


@pytest.mark.parametrize("depth", [11, 900, 2000, 100_000])
def test_deep_nesting(book: Book, depth: int) -> None:
    before = book.snapshot()
    for inner in (b"1", b"1.5"):  # 1.5: the exact-decimal re-read of a body with a float
        raw = b'{"metadata": ' + b"[" * depth + inner + b"]" * depth + b"}"
        refused(book, before, post_raw(book, "json", raw), "0144", "0094")
        raw = b'{"send": ' + b'{"a": ' * depth + inner + b"}" * depth + b"}"
        refused(book, before, post_raw(book, "json", raw), "0144", "0094", "0053")


@pytest.mark.parametrize("number", [b"1e400", b"-1e400", b"1e-400", b"1" * 30, b"0.1" + b"1" * 40])
def test_metadata_numbers_at_the_edges(book: Book, number: bytes) -> None:
    """Beyond a double is 0094 (Midaz reads metadata numbers as float64), and so is a number
    beyond the signed 64-bit range (jsonb would hand the 30-digit integer back as an integer no
    answer can write: every later read was a 500; tests/hostile/test_metadata_extremes.py); an
    underflowing number is kept, echoed as a number and read back."""
    before = book.snapshot()
    raw = orjson.dumps(valid_body("json"))[:-1] + b', "metadata": {"n": ' + number + b"}}"
    response = post_raw(book, "json", raw)
    if number.endswith(b"e400") or number == b"1" * 30:
        refused(book, before, response, "0094")
    else:
        created = book.ok(response)
        assert isinstance(created["metadata"]["n"], int | float)
        read = book.api.get(book.path(f"/transactions/{created['id']}"))
        assert book.ok(read, 200)["metadata"] == created["metadata"]


@pytest.mark.parametrize(
    ("metadata", "code"),
    [
        ({"k" * 101: "v"}, "0050"),
        ({"k": "v" * 2001}, "0051"),
        ({f"k{i}": i for i in range(101)}, "0145"),
        ({"k": {"nested": 1}}, "0067"),
        ({"k\x00": "v"}, "0047"),
        ({"k": "v\x00"}, "0047"),
    ],
)
def test_metadata_limits(book: Book, client: Client, metadata: dict[str, Any], code: str) -> None:
    before = book.snapshot()
    refused(book, before, book.post({**valid_body("json"), "metadata": metadata}), code)
    if code in {"0050", "0051"}:  # the same limits on a Gold program's metadata
        key, value = next(iter(metadata.items()))
        program = VALID_PROGRAMS[0].replace("(send", f"(metadata ({key} {value})) (send", 1)
        refused(book, before, upload(client, book, program), code)


# ---- the Gold DSL upload ----------------------------------------------------------------------


def upload(client: Client, book: Book, text: str | bytes, name: str = "t.gold") -> Any:
    data = text.encode() if isinstance(text, str) else text
    file = SimpleUploadedFile(name, data, content_type="text/plain")
    return client.post("/v1" + book.path("/transactions/dsl"), {"dsl": file})


def _in_book(text: str) -> str:
    """Point the sample programs at the book's accounts and asset, so that some mutations post."""
    return text.replace("@shop", "@bob").replace("BRL", "USD")


@FUZZ
@given(st.one_of(st.text(), st.lists(gold_pieces, max_size=60).map("".join), mutated_programs()))
def test_gold_uploads_are_posted_or_refused_cleanly(book: Book, client: Client, text: str) -> None:
    before = book.snapshot()
    check_answer(
        book, before, upload(client, book, _in_book(text).encode("utf-8", "surrogatepass"))
    )


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=200))
def test_gold_uploads_of_arbitrary_bytes(book: Book, client: Client, data: bytes) -> None:
    before = book.snapshot()
    check_answer(book, before, upload(client, book, data))


def test_gold_upload_limits_and_shapes(book: Book, client: Client, settings: Any) -> None:
    before = book.snapshot()
    path = "/v1" + book.path("/transactions/dsl")
    program = VALID_PROGRAMS[0].replace("250", "5")
    settings.MAX_DSL_FILE_BYTES = len(program) - 1
    refused(book, before, upload(client, book, program), "0048")
    settings.MAX_DSL_FILE_BYTES = len(program)
    book.ok(upload(client, book, program))
    before = book.snapshot()
    # Oversized multipart body (Django would spool the file to disk): 413 0143.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 512
    response = upload(client, book, program + " " * 600)
    assert refused(book, before, response, "0143")["status"] == 413
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024
    # Not UTF-8, no file, a JSON body, a broken multipart body, two files.
    refused(book, before, upload(client, book, b"\xff\xfe(transaction"), "0048")
    refused(book, before, client.post(path, {}), "0048")
    refused(book, before, book.api.request("POST", book.path("/transactions/dsl"), {"dsl": "x"}))
    broken = client.generic(
        "POST",
        path,
        b'--xx\r\nContent-Disposition: form-data; name="dsl"; filename="a.gold"\r\n\r\n(tr',
        content_type="multipart/form-data; boundary=xx",
    )
    refused(book, before, broken)
    no_boundary = client.generic("POST", path, b"--\r\n", content_type="multipart/form-data")
    refused(book, before, no_boundary)


def test_every_refusal_helper_can_fail(book: Book) -> None:
    """The checks above are not vacuous: an accepted posting does not pass as refused, and a
    changed ledger does not pass as unchanged."""
    before = book.snapshot()
    response = book.post(valid_body("json"))
    with pytest.raises(AssertionError):
        refused(book, before, response)
    fake = type(
        "R",
        (),
        {"status_code": 400, "content": b'{"code":"0047","title":"t","message":"m","status":400}'},
    )()
    with pytest.raises(AssertionError, match="changed the ledger"):
        check_answer(book, before, fake)
