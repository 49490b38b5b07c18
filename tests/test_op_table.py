"""The op table: one registration gives both spellings, and a duplicate name is refused."""
import pytest

from fastdl.ops import table


def test_duplicate_name_is_refused():
    @table.register("_test_only_op", method=False, function=False)
    def f(x):
        return x

    try:
        with pytest.raises(RuntimeError, match="registered twice"):
            table.register("_test_only_op")(lambda x: x)
    finally:
        del table.ROWS["_test_only_op"]


def test_install_writes_method_and_function():
    class T:
        pass

    ns = {}
    rows = dict(table.ROWS)
    try:
        table.ROWS.clear()

        @table.register(aliases=("twice_alias",))
        def twice(x):
            return 2 * x

        table.install(T, ns)
    finally:
        table.ROWS.clear()
        table.ROWS.update(rows)
    assert ns["twice"](3) == 6 and ns["twice_alias"](4) == 8
    assert T.twice is twice and T.twice_alias is twice


def test_function_only_and_method_only_rows_may_share_a_name():
    @table.register("_test_pair_op", method=False)
    def f(x):
        return "function"

    try:
        @table.register("_test_pair_op", function=False)
        def m(x):
            return "method"

        with pytest.raises(RuntimeError, match="registered twice"):
            table.register("_test_pair_op", function=False)(lambda x: x)

        class T:
            pass

        ns = {}
        table.install(T, ns)
        assert ns["_test_pair_op"](0) == "function" and T()._test_pair_op() == "method"
    finally:
        table.ROWS.pop("_test_pair_op", None)
        table.ROWS.pop("_test_pair_op#2", None)
