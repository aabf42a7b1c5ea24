"""CSV files in the Neo4j admin-import format, read by the C parser (native/csv.c) into batches.

Groups
    A group is a list of files read as one: the first file's first line is the header, the
    other files are data only ("several files seen as one big file", ``neo4j-admin database
    import``), plus labels (or the edge type) given to every row of the group.

Header fields (``name:type``)
    ``name:ID`` / ``:ID`` / ``name:ID(Space)``   the row's id in an ID space (default: the global
        one); with a name, also kept as a property (a string; an int with ``id_type="integer"``)
    ``:LABEL``          labels, separated by the array delimiter
    ``:START_ID(Space)``, ``:END_ID(Space)``   an edge's endpoints: ids of nodes of this load
    ``:TYPE``           the edge's label (lpgdb: several, separated by the array delimiter)
    ``:IGNORE``         a column that is skipped
    ``name[:type][[]]`` a property: ``string`` (default), ``int``/``long``/``short``/``byte``,
        ``float``/``double``, ``boolean``, ``char`` (one character), ``date``, ``localtime``,
        ``time``, ``localdatetime``, ``datetime`` (ISO 8601; ``time``/``datetime`` without an
        offset are UTC, as in Neo4j; ``[Area/City]`` zone names kept), ``duration`` (ISO 8601),
        each with ``[]`` for an array split on the array delimiter; ``byte[]`` is a ``bytes``
        value.  ``point`` is refused: lpgdb has no spatial type.

Cells
    An empty cell means "no property"; a quoted empty cell ``""`` is the empty string (or, in an
    array column, the empty list / empty bytes).  Fields are quoted with ``"`` (doubled inside),
    may span lines, and have no size limit.  A UTF-8 byte-order mark is skipped.

Speed
    Files in UTF-8 are memory-mapped and parsed by C into typed columns (string, integer, float,
    boolean, char, ids, labels): no Python object per cell.  Temporal and array columns are read
    by C as text and converted per cell in Python (the slow path: about 1 µs a cell).  Other
    encodings are transcoded to UTF-8 in memory first.  Every problem is a ``CsvError`` (a
    ``DataError``) naming the file, line and column, and what to do.
"""
from __future__ import annotations

import datetime as dt
import mmap
import os
import re
from array import array
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from .. import core
from ..errors import DataError
from ..storage import records
from ..values import check_properties, plain
from .columns import Column, EdgeBatch, NodeBatch

__all__ = ["CsvError", "CsvFiles", "Dialect", "Header", "read_header", "read_group", "parse_char"]

#: rows per parse call: the columns of one chunk are what a load holds in memory at a time
#: (READ_AHEAD + 2 chunks, load.py).  The reader thread allocates them in its own malloc arena,
#: whose free top glibc keeps after the load (malloc_trim does not trim a thread's arena): 2^16
#: rows keep that to ~15 MB (2^18 kept ~55 MB, which the next load's partition build then sat
#: on top of).  Not slower: medium W1 0.76 s against 0.80 (median of 6 paired, load 2.2).
CHUNK_ROWS = 1 << 16


class CsvError(DataError):
    """A problem with an input file: the message names file, line and column and what to do."""

    def __init__(self, message: str, *, path: Optional[str] = None, line: Optional[int] = None,
                 column: Optional[int] = None):
        where = path or ""
        if line is not None:
            where += f":{line}"
            if column is not None:
                where += f":{column}"
        super().__init__(f"{where}: {message}" if where else message)
        self.path, self.line, self.column = path, line, column


# ---- dialect ------------------------------------------------------------------------------------------

_NAMED_CHARS = {"TAB": "\t", "\\t": "\t", "SPACE": " ", "COMMA": ",", "SEMICOLON": ";", "PIPE": "|"}


def parse_char(text: str, what: str) -> str:
    """A delimiter/quote option: one character, ``TAB``/``\\t``, or ``U+007C`` (Neo4j's forms)."""
    if not isinstance(text, str):
        raise CsvError(f"{what} must be a str, not {type(text).__name__}")
    if text in _NAMED_CHARS or text.upper() in _NAMED_CHARS:
        return _NAMED_CHARS.get(text) or _NAMED_CHARS[text.upper()]
    m = re.fullmatch(r"[Uu]\+([0-9A-Fa-f]{1,6})", text)
    if m:
        return chr(int(m.group(1), 16))
    if len(text) != 1:
        raise CsvError(f"{what} must be one character (or TAB, or U+XXXX), not {text!r}")
    return text


class Dialect:
    """How the files are written: field delimiter, array delimiter, quote, text encoding, and
    whether ids are strings or integers."""

    def __init__(self, delimiter: str = ",", array_delimiter: str = ";", quote: str = '"',
                 encoding: str = "utf-8", id_type: str = "string"):
        delimiter, array_delimiter, quote, encoding, id_type = map(plain, (delimiter, array_delimiter, quote,
                                                                           encoding, id_type))
        self.delimiter = parse_char(delimiter, "--delimiter")
        self.array_delimiter = parse_char(array_delimiter, "--array-delimiter")
        self.quote = parse_char(quote, "--quote")
        chars = (self.delimiter, self.array_delimiter, self.quote)
        if len(set(chars)) != 3 or "\n" in chars or "\r" in chars:
            raise CsvError("--delimiter, --array-delimiter and --quote must be three different characters, "
                           "none of them a newline")
        if any(len(c.encode("utf-8", "surrogatepass")) != 1 for c in (self.delimiter, self.quote)):
            raise CsvError("--delimiter and --quote must be ASCII characters (one byte in UTF-8)")
        try:
            "".encode(encoding)
        except (LookupError, TypeError, ValueError):     # ValueError: a NUL or a lone surrogate in the name
            raise CsvError(f"unknown --input-encoding {encoding!r} (try utf-8 or latin-1)") from None
        self.encoding = encoding
        self.utf8 = encoding.replace("-", "").replace("_", "").lower() in ("utf8", "utf8sig")
        if type(id_type) is not str or id_type not in ("string", "integer"):
            raise CsvError(f"--id-type must be string or integer, not {id_type!r} "
                           "(Neo4j's 'actual' has no meaning in lpgdb: ids are assigned)")
        self.id_type = id_type


# ---- reading the header record (Python: one record per file group) -------------------------------------

class Quoted(str):
    """A field that was quoted: the empty one is the empty string, not "no value"."""
    __slots__ = ()


_UTF8_BOM = b"\xef\xbb\xbf"


def _check_file(path: str) -> None:
    if not os.path.exists(path):
        raise CsvError("no such file (check the path)", path=path)
    if os.path.isdir(path):
        raise CsvError("is a directory, not a CSV file", path=path)


def _load(path: str, dialect: Dialect):
    """The file's bytes as UTF-8 (an mmap when it is UTF-8 already, BOM skipped) and where the
    text starts.  UTF-16 is refused with a hint; other encodings are transcoded in memory."""
    _check_file(path)
    try:
        f = open(path, "rb")
    except OSError as e:
        raise CsvError(f"cannot be read: {e.strerror}", path=path) from None
    with f:
        head = f.read(4)
        if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise CsvError("is UTF-16 text; save it as UTF-8 (lpgdb reads UTF-8, or the --input-encoding you "
                           "give)", path=path)
        if not dialect.utf8:
            raw = head + f.read()
            try:
                return raw.decode(dialect.encoding).encode("utf-8"), 0
            except UnicodeDecodeError as e:
                line = raw.count(b"\n", 0, e.start) + 1
                raise CsvError(f"byte 0x{raw[e.start]:02x} is not valid {dialect.encoding} text", path=path,
                               line=line) from None
        start = 3 if head.startswith(_UTF8_BOM) else 0
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            return b"", 0
        try:
            return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ), start
        except (OSError, ValueError) as e:
            raise CsvError(f"cannot be read: {e}", path=path) from None


def _first_record(text: str, dialect: Dialect) -> Tuple[int, List[str], int]:
    """(line, fields, end offset in characters) of the first non-empty record of ``text``."""
    delim, quote = dialect.delimiter, dialect.quote
    i, n, line = 0, len(text), 1
    while i < n and text[i] in "\r\n":
        line += text[i] == "\n"
        i += 1
    start_line = line
    fields: List[str] = []
    while True:
        if i < n and text[i] == quote:
            parts, j = [], i + 1
            while True:
                k = text.find(quote, j)
                if k < 0:
                    raise CsvError(f"a quoted field opened here never closes (missing {quote})",
                                   line=start_line, column=len(fields) + 1)
                if k + 1 < n and text[k + 1] == quote:
                    parts.append(text[j:k + 1])
                    j = k + 2
                    continue
                parts.append(text[j:k])
                line += text.count("\n", i, k)
                i = k + 1
                break
            fields.append(Quoted("".join(parts)))
        else:
            k = i
            while k < n and text[k] != delim and text[k] != "\n":
                k += 1
            fields.append(text[i:k].rstrip("\r") if k >= n or text[k] == "\n" else text[i:k])
            i = k
        if i < n and text[i] == delim:
            i += 1
            continue
        if i < n and text[i] == "\r":
            i += 1
        if i < n and text[i] == "\n":
            i += 1
        elif i < n:
            raise CsvError(f"unexpected {text[i]!r} after a closing quote (a quote inside a quoted field is "
                           f"written twice: {quote}{quote})", line=line, column=len(fields))
        return start_line, fields, i


# ---- values of the slow columns (temporal, arrays) -----------------------------------------------------

def _bool(s: str) -> bool:
    t = s.strip().lower()
    if t == "true":
        return True
    if t == "false":
        return False
    raise ValueError("expected true or false")


def _char(s: str) -> str:
    if len(s) != 1:
        raise ValueError("a char is exactly one character")
    return s


class _NeedsQuery(ValueError):
    """A temporal text Python's types cannot hold exactly (nanoseconds, months, a zone name
    with its own rules): read it the query language's way (``Header.fallback``)."""


_NANOS = re.compile(r"[.,]\d{7,}")
_ZONE = re.compile(r"^(.*?)\[([^\]]+)\]$")


def _iso(parse, s: str):
    s = s.strip()
    if _NANOS.search(s):
        raise _NeedsQuery("nanoseconds")
    return parse(s)


def _date(s: str) -> dt.date:
    return dt.date.fromisoformat(s.strip())


def _localtime(s: str) -> dt.time:
    t = _iso(dt.time.fromisoformat, s)
    if t.tzinfo is not None:
        raise ValueError("a localtime has no offset (use the time type)")
    return t


def _time(s: str) -> dt.time:
    t = _iso(dt.time.fromisoformat, s)
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.timezone.utc)


def _localdatetime(s: str) -> dt.datetime:
    v = _iso(dt.datetime.fromisoformat, s)
    if v.tzinfo is not None:
        raise ValueError("a localdatetime has no offset (use the datetime type)")
    return v


def _datetime(s: str) -> dt.datetime:
    if _ZONE.match(s.strip()):
        raise _NeedsQuery("a zone name")     # its offset rules (gaps, folds) are the value model's
    v = _iso(dt.datetime.fromisoformat, s)
    return v if v.tzinfo is not None else v.replace(tzinfo=dt.timezone.utc)


_DURATION = re.compile(r"^([-+])?P(?:([-+]?\d+)Y)?(?:([-+]?\d+)M)?(?:([-+]?\d+)W)?(?:([-+]?\d+)D)?"
                       r"(?:T(?:([-+]?\d+)H)?(?:([-+]?\d+)M)?(?:([-+]?\d+(?:[.,]\d+)?)S)?)?$", re.I)


def _duration(s: str) -> dt.timedelta:
    m = _DURATION.match(s.strip())
    if not m or s.strip().upper().endswith(("P", "T")):
        raise ValueError("expected an ISO 8601 duration such as P1DT2H30M or PT0.5S")
    sign, y, mo, w, d, h, mi, sec = m.groups()
    frac = (sec or "").replace(",", ".").partition(".")[2]
    if (y and int(y)) or (mo and int(mo)) or len(frac) > 6:
        raise _NeedsQuery("years, months or nanoseconds: a Duration, not a timedelta")
    td = dt.timedelta(weeks=int(w or 0), days=int(d or 0), hours=int(h or 0), minutes=int(mi or 0),
                      seconds=float((sec or "0").replace(",", ".")))
    return -td if sign == "-" else td


def _bytes_of(items: List[str]) -> bytes:
    out = bytearray()
    for x in items:
        v = int(x)
        if not -128 <= v <= 255:
            raise ValueError(f"byte {v} is outside -128..255")
        out.append(v & 0xFF)
    return bytes(out)


_PARSERS: Dict[str, Callable[[str], Any]] = {
    "string": str, "int": int, "long": int, "short": int, "byte": int,
    "float": float, "double": float, "boolean": _bool, "char": _char,
    "date": _date, "localtime": _localtime, "time": _time, "localdatetime": _localdatetime,
    "datetime": _datetime, "duration": _duration,
}
#: scalar types the C parser converts itself (the fast path)
_NATIVE = {"string": "str", "int": "int", "long": "int", "short": "int", "byte": "int", "float": "float",
           "double": "float", "boolean": "bool", "char": "char"}
_ROLES = ("ID", "LABEL", "START_ID", "END_ID", "TYPE", "IGNORE")
_EXAMPLES = {"int": "an integer such as 42", "long": "an integer such as 42", "short": "an integer",
             "byte": "an integer", "byte[]": "integers -128..255", "float": "a number such as 1.5",
             "double": "a number such as 1.5", "date": "an ISO 8601 date such as 2020-02-29",
             "localtime": "an ISO 8601 time such as 12:30:00", "time": "an ISO 8601 time such as 12:30:00+01:00",
             "localdatetime": "an ISO 8601 date-time such as 2020-02-29T12:30:00",
             "datetime": "an ISO 8601 date-time such as 2020-02-29T12:30:00+01:00",
             "duration": "an ISO 8601 duration such as P1DT2H30M, P1Y2M or PT0.5S",
             "boolean": "true or false", "char": "one character"}


def _why(col: "HeaderColumn", e: Optional[ValueError]) -> str:
    """Our own parsers say what they expected; the standard ones (int, float, fromisoformat) don't."""
    own = e is not None and (col.parse in (_bool, _char, _bytes_of) or str(e).startswith("a local"))
    return str(e) if own else f"expected {_EXAMPLES.get(col.type, 'a ' + str(col.type))}"


# ---- headers ------------------------------------------------------------------------------------------

class HeaderColumn:
    """One header field: a role (``ID`` ... ``IGNORE``) or a typed property."""

    __slots__ = ("name", "role", "space", "type", "array", "parse", "field")

    def __init__(self, name, role, space, type_, array_, parse, field):
        self.name, self.role, self.space, self.type, self.array = name, role, space, type_, array_
        self.parse, self.field = parse, field

    def describe(self) -> str:
        return self.field or f"{self.name}:{self.type}"

    @property
    def native(self) -> Optional[str]:
        """The C parser's kind for a property column it converts itself, else None."""
        return None if self.array else _NATIVE.get(self.type)


def _group_hint(kind: str, files: Sequence[str], labels: str) -> str:
    arg = ",".join(files)
    if kind == "nodes":
        return f"--nodes={labels}={arg} (bulk_load(nodes={{{labels!r}: path}}))"
    return f"--edges={labels}={arg} (bulk_load(edges={{{labels!r}: path}}))"


class Header:
    """A parsed header: its columns, checked against the group's kind."""

    def __init__(self, kind: str, labels: Tuple[str, ...], files: Sequence[str], fields: Sequence[str],
                 path: str, line: int, dialect: Dialect):
        self.kind, self.group_labels, self.path, self.dialect = kind, tuple(labels), path, dialect
        self.columns: List[HeaderColumn] = []
        seen: Dict[str, int] = {}
        for i, field in enumerate(fields, start=1):
            col = self._column(field, path, line, i)
            if col.role is None or (col.role == "ID" and col.name):
                if col.name in seen:
                    raise CsvError(f"property {col.name!r} appears twice in the header (columns {seen[col.name]} "
                                   f"and {i}); rename one", path=path, line=line, column=i)
                seen[col.name] = i
            self.columns.append(col)
        self.width = len(self.columns)
        roles = [c.role for c in self.columns]
        if kind == "nodes":
            edge_roles = sorted({r for r in roles if r in ("START_ID", "END_ID", "TYPE")})
            if edge_roles:
                raise CsvError(f"this header has {', '.join(':' + r for r in edge_roles)}, so it describes "
                               f"relationships: pass the file with --edges (or --relationships), not --nodes",
                               path=path, line=line)
            if roles.count("ID") > 1:
                raise CsvError("a node header has at most one :ID column", path=path, line=line)
            if "LABEL" not in roles and not labels:
                what = ("neither an :ID nor a :LABEL column" if "ID" not in roles else "no :LABEL column")
                raise CsvError(f"this node header has {what}, so its nodes would have no labels (is it an "
                               f"admin-import file?); add a :LABEL column, or give the labels with the files: "
                               f"{_group_hint(kind, files, 'Person')}", path=path, line=line)
            self.id_col = roles.index("ID") if "ID" in roles else None
        else:
            node_roles = sorted({r for r in roles if r in ("ID", "LABEL")})
            if node_roles:
                raise CsvError(f"this header has {', '.join(':' + r for r in node_roles)}, so it describes "
                               f"nodes: pass the file with --nodes, not --edges", path=path, line=line)
            for need in ("START_ID", "END_ID"):
                if roles.count(need) != 1:
                    raise CsvError(f"a relationship header needs exactly one :{need} column "
                                   f"(it has {roles.count(need)})", path=path, line=line)
            if "TYPE" not in roles and not labels:
                raise CsvError(f"this relationship header has no :TYPE column; add one, or give the type with "
                               f"the files: {_group_hint(kind, files, 'KNOWS')}", path=path, line=line)
            self.start_col, self.end_col = roles.index("START_ID"), roles.index("END_ID")
        self.label_cols = [i for i, r in enumerate(roles) if r in ("LABEL", "TYPE")]
        self.props = [(i, c) for i, c in enumerate(self.columns) if c.role is None]

    def _column(self, field: str, path: str, line: int, i: int) -> HeaderColumn:
        def bad(msg):
            return CsvError(f"header column {i} ({field!r}): {msg}", path=path, line=line, column=i)
        name, sep, typ = field.rpartition(":") if ":" in field else (field, "", "")
        if "{" in typ:
            raise bad("column options in braces are not supported by lpgdb; remove the {...}")
        typ = typ.strip()
        m = re.fullmatch(r"([A-Za-z_]+)\s*(?:\(([^)]*)\))?", typ) if sep else None
        if sep and m and m.group(1).upper() in _ROLES:
            role = m.group(1).upper()
            space = (m.group(2) or "").strip()
            if space and role not in ("ID", "START_ID", "END_ID"):
                raise bad("only :ID, :START_ID and :END_ID take an ID space in parentheses")
            return HeaderColumn(name.strip(), role, space, None, False, None, field)
        if sep and not name.strip():
            raise bad("a property column needs a name before the ':' (e.g. age:int)")
        many = typ.endswith("[]")
        base = (typ[:-2] if many else typ).strip().lower() or "string"
        if base == "point":
            raise bad("point values are not supported: lpgdb has no spatial type; store the coordinates "
                      "as two float columns (e.g. lat:float,lon:float)")
        if base == "byte" and many:
            return HeaderColumn(name.strip(), None, "", "byte[]", True, _bytes_of, field)
        parse = _PARSERS.get(base)
        if parse is None:
            raise bad(f"unknown type {typ!r}; use one of {', '.join(sorted(_PARSERS))} (with [] for an "
                      f"array), or :ID, :LABEL, :START_ID, :END_ID, :TYPE, :IGNORE")
        return HeaderColumn((name if sep else field).strip(), None, "", base, many, parse, field)

    def kinds(self) -> List[str]:
        """The C parser's kind of each column."""
        out = []
        for c in self.columns:
            if c.role == "ID":
                out.append("id")
            elif c.role in ("START_ID", "END_ID"):
                out.append("ref")
            elif c.role in ("LABEL", "TYPE"):
                out.append("dict")
            elif c.role == "IGNORE":
                out.append("skip")
            else:
                out.append(c.native or "str")
        return out

    #: ``fallback(type, text)``: the query language's reading of a temporal value Python's types
    #: cannot hold (nanoseconds, durations with months, other ISO 8601 forms); ValueError if none.
    fallback: Optional[Callable[[str, str], Any]] = None

    def value(self, col: HeaderColumn, text: str) -> Any:
        """One cell of a slow column (temporal, array) as a Python value; ValueError if bad."""
        if col.array:
            items = text.split(self.dialect.array_delimiter) if text else []
            return col.parse(items) if col.type == "byte[]" else [self._scalar(col, x) for x in items]
        return self._scalar(col, text)

    def _scalar(self, col: HeaderColumn, text: str) -> Any:
        try:
            return col.parse(text)
        except _NeedsQuery:
            if self.fallback is None:
                raise ValueError(f"this {col.type} needs the query language's reading") from None
            return self.fallback(col.type, text)


def _head_text(data, start: int) -> str:
    """The file's first MiB as text (bytes that are not UTF-8 kept as lone surrogates)."""
    return bytes(data[start:start + (1 << 20)]).decode("utf-8", "surrogateescape")


class CsvFiles:
    """CSV files read as one group (``bulk_load(nodes=CsvFiles(...))``): the first file's first
    line is the header, the others are data only.  ``header`` (fields in the files' dialect,
    e.g. ``"id:ID(Person),name,age:int"``) replaces that first line, which is then skipped: for
    files whose own header has no types or roles (Kùzu's ``COPY ... (HEADER=true)`` with a
    declared table)."""

    def __init__(self, *files: "str | os.PathLike[str] | Sequence[str | os.PathLike[str]]",
                 header: Optional[str] = None) -> None:
        if len(files) == 1 and isinstance(files[0], (list, tuple)):
            files = tuple(files[0])
        if not files or not all(isinstance(f, (str, os.PathLike)) for f in files):
            raise CsvError("CsvFiles needs at least one path (str or os.PathLike)")
        if header is not None and not isinstance(header, str):
            raise CsvError(f"CsvFiles(header=...) must be a str of header fields, not {type(header).__name__}")
        self.files = [os.fspath(f) for f in files]
        self.header = header

    def __repr__(self) -> str:
        return f"CsvFiles({', '.join(map(repr, self.files))}, header={self.header!r})"


def read_header(kind: str, labels: Tuple[str, ...], files: Sequence[str], dialect: Dialect,
                override: Optional[str] = None) -> Header:
    """Read and check the header (the first record of the group's first file, or ``override``)."""
    path = files[0]
    if override is not None:
        _check_file(path)
        try:
            line, fields, _end = _first_record(override + "\n", dialect)
        except CsvError as e:
            raise CsvError(f"header={override!r}: {str(e).split(': ', 1)[1]}") from None
        return Header(kind, labels, files, fields, path, 1, dialect)
    data, start = _load(path, dialect)
    try:
        text = _head_text(data, start)
        if not text.strip("\r\n"):
            raise CsvError("is empty: the first line of a group's first file must be the header", path=path)
        try:
            line, fields, _end = _first_record(text, dialect)
        except CsvError as e:
            raise CsvError(str(e).split(": ", 1)[1], path=path, line=e.line, column=e.column) from None
        for i, f in enumerate(fields):
            bad = re.search("[\udc80-\udcff]", f)
            if bad:
                raise CsvError(f"byte 0x{ord(bad.group()) - 0xdc00:02x} of the header is not valid utf-8 text; pass "
                               f"the file's encoding (--input-encoding latin-1, or bulk_load(encoding=...))",
                               path=path, line=line, column=i + 1)
        return Header(kind, labels, files, fields, path, line, dialect)
    finally:
        if isinstance(data, mmap.mmap):
            data.close()


# ---- reading a group into batches ----------------------------------------------------------------------

class Spaces:
    """The ID spaces of one load: name -> IdMap (C), and where each node came from."""

    def __init__(self, integer: bool):
        self.integer = integer
        self.maps: Dict[str, core.IdMap] = {}
        #: (first node id, source, lines | None, rows, first row): where each batch of nodes came from
        self.sources: List[tuple] = []

    def map_for(self, space: str) -> core.IdMap:
        m = self.maps.get(space)
        if m is None:
            m = self.maps[space] = core.IdMap(self.integer)
        return m

    def where(self, node_id: int) -> Optional[str]:
        for first, path, lines, n, row0 in reversed(self.sources):
            if first <= node_id < first + n:
                k = node_id - first
                return f"{path}:{lines[k]}" if lines is not None else f"{path} row {row0 + k}"
        return None


def _labels_of(header: Header, parser: core.CsvParser, cache: Dict[int, List[frozenset]]) -> Tuple[array, list]:
    """(label-set index per row, label sets) of the chunk just parsed.  One :LABEL column: the
    dictionary codes are the indexes (no per-row work)."""
    adelim = header.dialect.array_delimiter
    group = frozenset(header.group_labels)
    if not header.label_cols:
        return array("I", bytes(4 * parser.rows)), [group]
    per_col = []
    for i in header.label_cols:
        sets = cache.setdefault(i, [])
        entries = parser.dictionary(i)
        for raw in entries[len(sets):]:
            sets.append(frozenset(x for x in raw.decode("utf-8").split(adelim) if x))
        per_col.append(sets)
    if len(per_col) == 1:
        _valid, codes, _data = parser.column(header.label_cols[0])
        return array("I", codes), [group | s for s in per_col[0]]
    combos: Dict[tuple, int] = {}
    lsets: List[frozenset] = []
    idx = array("I")
    cols = [array("I", parser.column(i)[1]) for i in header.label_cols]
    for codes in zip(*cols):          # several label columns: per row (rare)
        k = combos.get(codes)
        if k is None:
            k = combos[codes] = len(lsets)
            lsets.append(group.union(*(per_col[j][c] for j, c in enumerate(codes))))
        idx.append(k)
    return idx, lsets


def _slow_column(header: Header, col: HeaderColumn, ci: int, parser: core.CsvParser, lines: array,
                 path: str) -> Column:
    """A temporal or array column: C gave the text; each cell is converted in Python."""
    valid, offs_b, data = parser.column(ci)
    n = parser.rows
    offs = array("q", offs_b) if n else array("q", [0])
    vbits = memoryview(valid)
    out_offs = array("q", [0])
    heap = bytearray()
    for r in range(n):
        if vbits[r >> 3] >> (r & 7) & 1:
            text = data[offs[r]:offs[r + 1]].decode("utf-8")
            try:
                v = header.value(col, text)
                v = check_properties({col.name: v}, allow_none=False)[col.name]
            except (ValueError, OverflowError) as e:
                shown = text if len(text) <= 60 else text[:57] + "..."
                raise CsvError(f"column {ci + 1} ({col.describe()}): bad value {shown!r}: {_why(col, e)}; fix the "
                               f"value, or declare the column with another type", path=path, line=lines[r],
                               column=ci + 1) from None
            except DataError as e:
                raise CsvError(f"column {ci + 1} ({col.describe()}): {e}", path=path, line=lines[r],
                               column=ci + 1) from None
            heap += records.pack(v)
        out_offs.append(len(heap))
    return Column("msgpack", n, out_offs.tobytes(), bytes(heap), valid)


_FAULTS = {
    "int": "expected", "float": "expected", "bool": "expected", "char": "a char is exactly one character",
}


def _fault(e: core.InputFault, header: Header, path: str, buf, chunk, spaces: "Spaces") -> CsvError:
    """The CsvError for bad input the C parser found."""
    d = header.dialect
    col = header.columns[e.column - 1] if e.column and e.column <= len(header.columns) else None
    raw = bytes(buf[e.offset:e.offset + min(e.length, 4096)]) if e.length else b""
    shown = raw.decode("utf-8", "replace")
    if len(shown) > 60:
        shown = shown[:57] + "..."
    at = dict(path=path, line=e.line, column=e.column)
    w = e.what
    if w == "unclosed":
        return CsvError(f"a quoted field opened here never closes (missing {d.quote})", **at)
    if w == "after_quote":
        return CsvError(f"unexpected {chr(e.aux)!r} after a closing quote (a quote inside a quoted field is "
                        f"written twice: {d.quote}{d.quote})", **at)
    if w == "width":
        return CsvError(f"{e.aux} fields, but the header has {header.width} (is the delimiter {d.delimiter!r} "
                        f"right? pass --delimiter otherwise)", path=path, line=e.line)
    if w == "utf8":
        pos = e.offset + e.aux
        start = bytes(buf[max(0, pos - 65536):pos])
        start = start[start.rfind(b"\n") + 1:]
        char = len(start.decode("utf-8", "replace")) + 1
        return CsvError(f"byte 0x{buf[pos]:02x} (character {char} of the line) is not valid utf-8 text; if the "
                        f"file is Latin-1 or Windows-1252, run again with --input-encoding latin-1 or cp1252 "
                        f"(bulk_load(encoding='latin-1')), or save the file as UTF-8", path=path, line=e.line)
    if w in ("int", "range", "float", "bool", "char") and col is not None:
        why = "the number does not fit in 64 bits" if w == "range" else (
            "a char is exactly one character" if w == "char" else f"expected {_EXAMPLES.get(col.type, col.type)}")
        return CsvError(f"column {e.column} ({col.describe()}): bad value {shown!r}: {why}; fix the value, or "
                        f"declare the column with another type", **at)
    if w == "empty_id":
        role = col.role if col is not None else "ID"
        if role == "ID":
            return CsvError(f"the :ID column ({col.describe()}) is empty; every node of a file with an :ID "
                            f"column needs an id", **at)
        return CsvError(f"the :{role} cell is empty", **at)
    if w == "int_id":
        return CsvError(f"id {shown!r} is not an integer (--id-type integer); use --id-type string", **at)
    if w == "dup_id":
        space = col.space if col is not None else ""
        first = spaces.where(e.aux)
        if first is None and chunk[0] <= e.aux < chunk[0] + len(chunk[2]):
            first = f"{chunk[1]}:{chunk[2][e.aux - chunk[0]]}"
        return CsvError(f"id {shown!r} appears twice in ID space {space or '(global)'!r}; it was first given at "
                        f"{first}; ids must be unique in their space", **at)
    if w == "no_id":
        space = col.space if col is not None else ""
        which = "start" if col is not None and col.role == "START_ID" else "end"
        return CsvError(f"{which} node {shown!r} is not an id of the node files in ID space "
                        f"{space or '(global)'!r}", **at)
    return CsvError(f"bad input ({w})", **at)


def read_group(kind: str, labels: Tuple[str, ...], files: Sequence[str], dialect: Dialect, spaces: Spaces,
               first_id: int, progress: Optional[Callable[[int], None]] = None,
               fallback: Optional[Callable[[str, str], Any]] = None, header: Optional[str] = None
               ) -> Iterator[NodeBatch]:
    """Yield the batches of a group (at most CHUNK_ROWS rows each).  Node ids are ``first_id``
    onwards in file order (put into the ID spaces as they are read); edge endpoints are looked
    up in ``spaces`` and come out as node ids.  O(bytes)."""
    header = read_header(kind, labels, files, dialect, header)
    header.fallback = fallback
    kinds = header.kinds()
    if kind == "edges":
        for ci in (header.start_col, header.end_col):
            space = header.columns[ci].space
            if space not in spaces.maps:
                known = ", ".join(repr(s) for s in spaces.maps) or "none"
                raise CsvError(f"column {ci + 1} ({header.columns[ci].describe()}): no node file declares ID space "
                               f"{space or '(global)'!r} (known: {known})", path=files[0], line=1, column=ci + 1)
    parser = core.CsvParser(kinds, dialect.delimiter.encode(), dialect.quote.encode())
    for ci, c in enumerate(header.columns):
        if c.role == "ID" or c.role in ("START_ID", "END_ID"):
            parser.set_map(ci, spaces.map_for(c.space))
    label_cache: Dict[int, List[frozenset]] = {}
    next_id = first_id
    for fno, path in enumerate(files):
        buf, start = _load(path, dialect)
        try:
            parser.set_input(buf)
            pos, line = start, 1
            if fno == 0:      # skip the header record
                text = _head_text(buf, start)
                _hline, _fields, end_chars = _first_record(text, dialect)
                pos = start + len(text[:end_chars].encode("utf-8", "surrogateescape"))
                line = 1 + text[:end_chars].count("\n")
            parser.set_position(line, next_id)
            size, reported = len(buf), 0
            while pos < size:
                try:
                    new_pos, rows = parser.parse(pos, CHUNK_ROWS)
                except core.InputFault as e:
                    chunk = (next_id, path, parser.lines())
                    raise _fault(e, header, path, buf, chunk, spaces) from None
                if progress is not None:
                    progress(new_pos - reported)
                    reported = new_pos
                pos = new_pos
                if not rows:
                    continue
                lines = parser.lines()
                yield _batch(kind, header, parser, rows, lines, path, label_cache, next_id, spaces)
                next_id += rows
            if progress is not None and size > reported:
                progress(size - reported)
        finally:
            parser.release_input()
            if isinstance(buf, mmap.mmap):
                buf.close()


def _wide_ints(n: int, valid: bytes, vals: bytes, big: set) -> Column:
    """An int column holding uint64 values as a msgpack column (rare: one value per cell)."""
    signed, unsigned = array("q", vals), array("Q", vals)
    offs, heap = array("q", [0]), bytearray()
    for r in range(n):
        if valid[r >> 3] >> (r & 7) & 1:
            heap += records.pack(unsigned[r] if r in big else signed[r])
        offs.append(len(heap))
    return Column("msgpack", n, offs.tobytes(), bytes(heap), valid)


def _batch(kind, header, parser, rows, lines, path, label_cache, first_id, spaces):
    cols = []
    for ci, c in header.props:
        if c.native:
            valid, vals, data = parser.column(ci)
            big = parser.big_rows(ci) if c.native == "int" else ()
            if big:       # values above 2**63 - 1 (uint64): this column goes through msgpack
                cols.append((c.name, _wide_ints(rows, valid, vals, set(big))))
                continue
            cols.append((c.name, Column(c.native if c.native != "char" else "str", rows, vals, data, valid)))
        else:
            cols.append((c.name, _slow_column(header, c, ci, parser, lines, path)))
    if kind == "nodes" and header.id_col is not None and header.columns[header.id_col].name:
        valid, vals, data = parser.column(header.id_col)
        cols.insert(0, (header.columns[header.id_col].name,
                        Column("int" if spaces.integer else "str", rows, vals, data, None)))
    lset, lsets = _labels_of(header, parser, label_cache)

    def where(row, lines=lines, path=path):
        return f"{path}:{lines[row]}"
    if kind == "nodes":
        if lines and lines[-1] < 1 << 32:        # kept for the whole load: 4 bytes a node, not 8
            lines = array("I", lines)
        spaces.sources.append((first_id, path, lines, rows, 0))
        return NodeBatch(rows, lset, lsets, cols, where)
    src = array("Q", parser.column(header.start_col)[1])
    dst = array("Q", parser.column(header.end_col)[1])
    return EdgeBatch(rows, lset, lsets, src, dst, cols, where)
