"""``config.RATE_LIMIT_TRUST_PROXY`` of the chart: a boolean (true = one proxy) or the number of
trusted proxies, 0 to 16, as ``midaz.settings`` reads it; rendered as text the setting parses."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest

from tests.helm.chart import MINIMAL, RELEASE, chart, merged, render


@pytest.mark.parametrize(
    ("value", "text"), [(True, "true"), (False, "false"), (0, "0"), (2, "2"), (16, "16")]
)
def test_a_boolean_or_a_count_of_proxies_is_accepted(value: Any, text: str) -> None:
    values = merged(MINIMAL, {"config": {"RATE_LIMIT_TRUST_PROXY": value}})
    chart().validate_schema(values)
    assert render(values).config_maps()[RELEASE]["RATE_LIMIT_TRUST_PROXY"] == text


@pytest.mark.parametrize("value", [17, -1, 1.5, "yes", "2"])
def test_anything_else_is_refused_by_the_schema(value: Any) -> None:
    with pytest.raises(helm.HelmValuesError, match="RATE_LIMIT_TRUST_PROXY"):
        chart().validate_schema(merged(MINIMAL, {"config": {"RATE_LIMIT_TRUST_PROXY": value}}))
