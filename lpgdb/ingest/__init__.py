"""Bulk ingest (issue 11): CSV in the Neo4j admin-import format, Arrow tables, pandas and Polars
DataFrames and Parquet files, turned into columnar batches by C (native/csv.c, native/ingest.c)
or pyarrow, never one Python object per cell for the common column types.

    columns.py   the columnar batch (Arrow layout) every source becomes
    neo4j.py     the CSV format: dialect, headers, the C-parsed reader, errors with positions
    arrow.py     pyarrow / pandas / Polars / Parquet sources (``lpgdb[arrow]``, imported when used)
    load.py      one bulk load: sources -> batches -> the transaction's bulk ops

``db.bulk_load`` and ``lpgdb import`` use it.  Public here: ``CsvError``, ``Dialect``,
``CsvFiles`` (files with a header given in code), ``read_header`` (the CLI checks headers before it opens the database).
"""
from .neo4j import CsvError, CsvFiles, Dialect, parse_char, read_header

__all__ = ["CsvError", "CsvFiles", "Dialect", "parse_char", "read_header"]
