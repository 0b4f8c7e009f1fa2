"""The SQL dialects: sqlglot's DuckDB and Spark generators, plus the few operations whose SQL
differs between engines, each a small function per dialect.

The lowering (`lower.py`) builds one sqlglot expression tree. Where the engines agree, it uses
sqlglot's own nodes (CASE, IN, lambdas, struct access, `list_transform`/`TRANSFORM`, ...).
Where they differ in meaning (0- or 1-based lists, what `size(NULL)` is, how decimals divide,
how a date leaves its range), it uses one of the nodes below, and each dialect renders it.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.dialects.spark import Spark

NUM_PRECISION, NUM_SCALE = 38, 12  # money and numbers: DECIMAL(38, 12)
NUM = exp.DataType.build(f"DECIMAL({NUM_PRECISION}, {NUM_SCALE})")
SCALE = 10 ** NUM_SCALE


class _Node(exp.Expression, exp.Func):
    """A dialect-specific operation (never parsed, only generated)."""


class ListGet(_Node):
    """Element `expression` (0-based) of a list; unknown out of range (never from the end)."""

    arg_types = {"this": True, "expression": True}


class ListLen(_Node):
    """Number of elements; unknown for an unknown list."""

    arg_types = {"this": True}


class ListSum(_Node):
    """The sum of a list's values: 0 for an empty list, unknown if a value (or the list) is."""

    arg_types = {"this": True, "zero": True}


class Range0(_Node):
    """The integers this … expression−1 (empty when expression <= this); unknown past 10,000."""

    arg_types = {"this": True, "expression": True}


class WideRange(_Node):
    """The integers this … expression−1 (empty when expression <= this); unknown past 40,000
    (the days a working-day function looks at: bounded by the calendar, `builtins.py`)."""

    arg_types = {"this": True, "expression": True}


class ExactDiv(_Node):
    """Decimal division rounded half away from zero at NUM_SCALE places; unknown on zero."""

    arg_types = {"this": True, "expression": True}


class AddDays(_Node):
    """A date plus a number of days (unknown outside 0001-01-01 … 9999-12-31)."""

    arg_types = {"this": True, "expression": True}


class AddMonths(_Node):
    """A date plus a number of months, the day clamped to the month's end (unknown outside
    0001-01-01 … 9999-12-31)."""

    arg_types = {"this": True, "expression": True}


class DaysBetween(_Node):
    """`expression − this` in days (two dates)."""

    arg_types = {"this": True, "expression": True}


class FullMatch(_Node):
    """Whether the whole text matches a regular expression (a policy literal)."""

    arg_types = {"this": True, "expression": True}


class IndexOf(_Node):
    """0-based position of `expression` in `this`, −1 when absent."""

    arg_types = {"this": True, "expression": True}


class Instant(_Node):
    """A date-time text with its offset (RFC 3339) as an instant, for comparisons."""

    arg_types = {"this": True}


class ToNum(_Node):
    """A decimal text (money as the record wrote it) as DECIMAL(38, 12)."""

    arg_types = {"this": True}


class ToJson(_Node):
    """A value as JSON text."""

    arg_types = {"this": True}


class FirstBy(_Node):
    """Aggregate: `this` of the row with the smallest `expression` (arg_min / min_by)."""

    arg_types = {"this": True, "expression": True}
    is_var_len_args = False


class SortedList(_Node):
    """Aggregate: the list of `this` in the order of `expression` (a struct or scalar key)."""

    arg_types = {"this": True, "expression": True}


def _within_dates(sql: str) -> str:
    """`sql` (a date) when inside the dates a record can hold, else unknown."""
    return f"CASE WHEN {sql} BETWEEN DATE '0001-01-01' AND DATE '9999-12-31' THEN {sql} END"


# ---- DuckDB --------------------------------------------------------------------------------
def _duck_list_get(self, e):
    i = self.sql(e, "expression")
    return f"CASE WHEN ({i}) >= 0 THEN ({self.sql(e, 'this')})[({i}) + 1] END"


def _duck_list_sum(self, e):
    xs, zero = self.sql(e, "this"), self.sql(e, "zero")
    return (f"(CASE WHEN ({xs}) IS NULL THEN NULL WHEN list_count({xs}) < len({xs}) THEN NULL "
            f"ELSE coalesce(list_sum({xs}), {zero}) END)")


def _duck_range(self, e):
    a, b = self.sql(e, "this"), self.sql(e, "expression")
    return f"CASE WHEN ({b}) - ({a}) <= 10000 THEN range({a}, {b}) END"


def _duck_wide_range(self, e):
    a, b = self.sql(e, "this"), self.sql(e, "expression")
    return f"CASE WHEN ({b}) - ({a}) <= 40000 THEN range({a}, {b}) END"


def _duck_div(self, e):
    a, b = self.sql(e, "this"), self.sql(e, "expression")
    # exact: scaled integers (HUGEINT), rounded half away from zero; TRY: overflow is unknown
    ia = f"CAST(CAST({a} AS DECIMAL(38, 12)) * 1000000000000 AS HUGEINT)"
    ib = f"CAST(CAST({b} AS DECIMAL(38, 12)) * 1000000000000 AS HUGEINT)"
    q = (f"sign({ia}) * sign({ib}) * ((abs({ia}) * 2000000000000 + abs({ib})) // (2 * abs({ib})))")
    return (f"TRY(CASE WHEN {ib} = 0 THEN NULL ELSE CAST(CAST({q} AS DECIMAL(38, 0)) * "
            f"CAST(0.000000000001 AS DECIMAL(13, 12)) AS DECIMAL(38, 12)) END)")


def _duck_add_days(self, e):
    n = self.sql(e, "expression")  # beyond ±4,000,000 days no date is in range: unknown, not an error
    return _within_dates(f"CASE WHEN abs({n}) <= 4000000 THEN "
                         f"CAST(({self.sql(e, 'this')}) + CAST({n} AS INTEGER) AS DATE) END")


def _duck_add_months(self, e):
    n = self.sql(e, "expression")
    return _within_dates(f"CASE WHEN abs({n}) <= 130000 THEN "
                         f"CAST(({self.sql(e, 'this')}) + to_months(CAST({n} AS INTEGER)) AS DATE) END")


class QDuckDB(DuckDB):
    class Generator(DuckDB.Generator):
        TRANSFORMS = {
            **DuckDB.Generator.TRANSFORMS,
            ListGet: _duck_list_get,
            ListLen: lambda self, e: f"len({self.sql(e, 'this')})",
            ListSum: _duck_list_sum,
            Range0: _duck_range,
            WideRange: _duck_wide_range,
            ExactDiv: _duck_div,
            AddDays: _duck_add_days,
            AddMonths: _duck_add_months,
            DaysBetween: lambda self, e: f"date_diff('day', {self.sql(e, 'this')}, {self.sql(e, 'expression')})",
            FullMatch: lambda self, e: f"regexp_full_match({self.sql(e, 'this')}, {self.sql(e, 'expression')})",
            IndexOf: lambda self, e: f"(strpos({self.sql(e, 'this')}, {self.sql(e, 'expression')}) - 1)",
            Instant: lambda self, e: f"CAST({self.sql(e, 'this')} AS TIMESTAMPTZ)",
            ToNum: lambda self, e: f"CAST({self.sql(e, 'this')} AS DECIMAL(38, 12))",
            ToJson: lambda self, e: f"CAST(to_json({self.sql(e, 'this')}) AS VARCHAR)",
            FirstBy: lambda self, e: f"arg_min({self.sql(e, 'this')}, {self.sql(e, 'expression')})",
            SortedList: lambda self, e: f"list({self.sql(e, 'this')} ORDER BY {self.sql(e, 'expression')})",
        }


# ---- Spark ---------------------------------------------------------------------------------
def _spark_list_get(self, e):
    i = self.sql(e, "expression")
    return f"CASE WHEN ({i}) >= 0 THEN try_element_at({self.sql(e, 'this')}, CAST(({i}) + 1 AS INT)) END"


def _spark_list_sum(self, e):
    xs, zero = self.sql(e, "this"), self.sql(e, "zero")
    z = e.args["zero"]
    t = self.sql(z, "to") if isinstance(z, exp.Cast) else "DECIMAL(38, 12)"
    return (f"(CASE WHEN ({xs}) IS NULL THEN NULL WHEN exists({xs}, x__ -> x__ IS NULL) THEN NULL "
            f"ELSE aggregate({xs}, {zero}, (a__, x__) -> CAST(a__ + x__ AS {t})) END)")


def _spark_range(self, e):
    a, b = self.sql(e, "this"), self.sql(e, "expression")
    return (f"CASE WHEN ({b}) - ({a}) > 10000 THEN NULL WHEN ({b}) <= ({a}) THEN CAST(array() AS ARRAY<BIGINT>) "
            f"ELSE sequence(CAST({a} AS BIGINT), CAST(({b}) - 1 AS BIGINT)) END")


def _spark_wide_range(self, e):
    a, b = self.sql(e, "this"), self.sql(e, "expression")
    return (f"CASE WHEN ({b}) - ({a}) > 40000 THEN NULL WHEN ({b}) <= ({a}) THEN CAST(array() AS ARRAY<BIGINT>) "
            f"ELSE sequence(CAST({a} AS BIGINT), CAST(({b}) - 1 AS BIGINT)) END")


def _spark_div(self, e):
    a, b = self.sql(e, "this"), self.sql(e, "expression")
    return (f"CASE WHEN CAST({b} AS DECIMAL(38, 12)) = 0 THEN NULL ELSE CAST(try_divide(CAST({a} AS DECIMAL(26, 12)), "
            f"CAST({b} AS DECIMAL(26, 12))) AS DECIMAL(38, 12)) END")


class QSpark(Spark):
    class Generator(Spark.Generator):
        TRANSFORMS = {
            **Spark.Generator.TRANSFORMS,
            ListGet: _spark_list_get,
            ListLen: lambda self, e: f"CASE WHEN ({self.sql(e, 'this')}) IS NULL THEN NULL ELSE size({self.sql(e, 'this')}) END",
            ListSum: _spark_list_sum,
            Range0: _spark_range,
            WideRange: _spark_wide_range,
            ExactDiv: _spark_div,
            AddDays: lambda self, e: _within_dates(
                f"CASE WHEN abs({self.sql(e, 'expression')}) <= 4000000 THEN "
                f"date_add({self.sql(e, 'this')}, CAST({self.sql(e, 'expression')} AS INT)) END"),
            AddMonths: lambda self, e: _within_dates(
                f"CASE WHEN abs({self.sql(e, 'expression')}) <= 130000 THEN "
                f"add_months({self.sql(e, 'this')}, CAST({self.sql(e, 'expression')} AS INT)) END"),
            DaysBetween: lambda self, e: f"datediff({self.sql(e, 'expression')}, {self.sql(e, 'this')})",
            FullMatch: lambda self, e: f"regexp_like({self.sql(e, 'this')}, concat('^(?:', {self.sql(e, 'expression')}, ')$'))",
            IndexOf: lambda self, e: f"(instr({self.sql(e, 'this')}, {self.sql(e, 'expression')}) - 1)",
            Instant: lambda self, e: f"to_timestamp({self.sql(e, 'this')})",
            ToNum: lambda self, e: f"CAST({self.sql(e, 'this')} AS DECIMAL(38, 12))",
            ToJson: lambda self, e: f"to_json({self.sql(e, 'this')})",
            FirstBy: lambda self, e: f"min_by({self.sql(e, 'this')}, {self.sql(e, 'expression')})",
            SortedList: lambda self, e: (f"transform(array_sort(collect_list(struct({self.sql(e, 'expression')} AS k__, "
                                         f"{self.sql(e, 'this')} AS v__))), s__ -> s__.v__)"),
        }


DIALECTS = {"duckdb": QDuckDB, "spark": QSpark}


def render(e: exp.Expression, dialect: str) -> str:
    return e.sql(dialect=DIALECTS[dialect], identify=True)
