"""Run a lowered program on Spark: the same query, rendered by sqlglot's Spark generator.

`pyspark` (the optional extra `qinqing[spark]`, with a Java 17 runtime) is imported here only.
The session is the user's: `master` is `local[*]` by default, or a cluster's URL
(`spark://host:7077`); anything else (HDFS, S3, memory) comes from the user's Spark
configuration (`spark-defaults.conf`, `SPARK_CONF_DIR`). The inputs are read with explicit
schemas (never inferred); ANSI mode is off so that an operation outside a type's range is NULL
(unknown), as in the language, instead of an error.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

from .run import Feeder, Found, Inputs, sql_for, steps_for

ONE_STATEMENT = 60_000  # characters: a larger program runs step by step
PARTITIONS = 4  # files per intermediate step

_SESSIONS: dict[str, Any] = {}
CONF = {
    "spark.sql.ansi.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.legacy.sizeOfNull": "false",
    "spark.driver.memory": "6g",
}


def session(master: str = "local[*]") -> Any:
    """A Spark session for `master` (one per master for the life of the process)."""
    hit = _SESSIONS.get(master)
    if hit is not None:
        return hit
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(master).appName("qinqing")
    for k, v in CONF.items():
        builder = builder.config(k, v)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    _SESSIONS[master] = spark
    return spark


def stop_all() -> None:
    for s in _SESSIONS.values():
        s.stop()
    _SESSIONS.clear()


def _ddl(types: dict) -> str:
    from . import dialect as d
    return ", ".join(f"`{name}` {t.sql(dialect=d.QSpark)}" for name, t in types.items())


def load(spark: Any, feeder: Feeder, inputs: Inputs) -> None:
    types = feeder.column_types()
    for table, path in (("recs", inputs.recs), ("epochs", inputs.epochs)):
        df = spark.read.schema(_ddl(types[table])).option("mode", "FAILFAST").json(path)
        df.createOrReplaceTempView(table)


def findings_rows(feeder: Feeder, inputs: Inputs, master: str | None = None) -> Found:
    """The final findings rows (as `duck.findings`), computed on Spark. The steps run now; the
    final query's rows are then handed over a partition at a time (`toLocalIterator`), so the
    driver never holds the whole findings table. The inputs must stay until they are consumed."""
    spark = session(master or "local[*]")
    load(spark, feeder, inputs)
    steps = steps_for(feeder.ev, "spark", feeder.cache)
    if sum(len(sql) for _, sql in steps) <= ONE_STATEMENT:
        return Found(_rows(spark.sql(sql_for(feeder.ev, "spark", feeder.cache))))
    # Each step is written to Parquet and read back before the next is planned: Spark's
    # optimiser then sees one rule's branch at a time, never the whole program (or a cache
    # of it). The folder must be one every executor reaches (QINQING_SPARK_WORKDIR).
    work = tempfile.mkdtemp(prefix="qinqing-spark-", dir=os.environ.get("QINQING_SPARK_WORKDIR"))
    try:
        for name, sql in steps:
            if name == "final":
                return Found(_rows(spark.sql(sql)), lambda: shutil.rmtree(work, ignore_errors=True))
            path = os.path.join(work, name)
            spark.sql(sql).coalesce(PARTITIONS).write.mode("overwrite").parquet(path)
            spark.read.parquet(path).createOrReplaceTempView(name)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    raise AssertionError("a program without a final step")


def _rows(df: Any) -> Iterator[tuple]:
    for row in df.toLocalIterator():
        yield tuple(list(x) if isinstance(x, list) else x for x in row)
