"""The Gold DSL: a pure-Python parser turning a ``.gold`` program into a ``TransactionSpec``.

Imports nothing from Django; only ``transactions.spec`` and the ``lark`` library.
"""

from transactions.dsl.parser import GoldError, parse_gold

__all__ = ["GoldError", "parse_gold"]
