"""CSV import and export in the Neo4j admin-import format (``neo4j-admin database import``).

Files and groups
    ``--nodes [Label[:Label...]=]header.csv[,data1.csv,...]``: a group of node files; the first
    file's first line is the header, the other files are data only ("several files seen as one
    big file").  The optional labels are given to every node of the group, besides those of a
    ``:LABEL`` column.  ``--edges`` / ``--relationships [TYPE=]files`` is the same for edges.

Header fields (``name:type``)
    ``name:ID`` / ``:ID`` / ``name:ID(Space)``   the row's id in an ID space (default: the global
        one); with a name, also kept as a property (a string; an int with ``id_type="integer"``)
    ``:LABEL``          labels, separated by the array delimiter
    ``:START_ID(Space)``, ``:END_ID(Space)``   an edge's endpoints: ids of nodes of this import
    ``:TYPE``           the edge's label (lpgdb: several, separated by the array delimiter)
    ``:IGNORE``         a column that is skipped
    ``name[:type][[]]`` a property: ``string`` (default), ``int``/``long``/``short``/``byte``,
        ``float``/``double``, ``boolean``, ``char`` (one character), ``date``, ``localtime``,
        ``time``, ``localdatetime``, ``datetime`` (ISO 8601; ``time``/``datetime`` without an
        offset are UTC, as in Neo4j; ``[Area/City]`` zone names kept), ``duration`` (ISO 8601,
        days and smaller units: lpgdb's durations are ``timedelta``), each with ``[]`` for an
        array split on the array delimiter; ``byte[]`` is a ``bytes`` value.  ``point`` is
        refused: lpgdb has no spatial type.

Cells
    An empty cell means "no property"; a quoted empty cell ``""`` is the empty string (or, in an
    array column, the empty list / empty bytes).  Fields are quoted with ``"`` (doubled inside),
    may span lines, and have no size limit.  A UTF-8 byte-order mark is skipped.

Layers (so the inner loop can be replaced by native code, issue 11): ``read_records`` turns
bytes into fields with positions, ``Header`` turns a header record into column converters and a
record into ``(labels, properties)`` or ``(start, type, end, properties)``, ``import_csv`` assembles
one ``db.bulk_load`` call (ONE transaction: all or nothing).  Every problem is a ``CsvError``
(a ``DataError``) naming the file, line and column, and what to do.

Export (``export_csv``) writes the same format, one file per label set, and ``import.args`` (the
options and file groups to import it again: ``lpgdb import NEWDB DIR``); the array delimiter is
chosen so that no array element contains it, so export then import gives the same graph back.
"""
from __future__ import annotations

import datetime as dt
import os
import re
from array import array
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from .. import DataError
from ..values import Date, DateTime, Duration, LocalDateTime, LocalTime, Temporal, Time, temporal_text

__all__ = ["CsvError", "Dialect", "FileGroup", "parse_group", "read_records", "Header", "import_csv",
           "export_csv", "read_import_args"]


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


# ---- dialect, groups ----------------------------------------------------------------------------------

_NAMED_CHARS = {"TAB": "\t", "\\t": "\t", "SPACE": " ", "COMMA": ",", "SEMICOLON": ";", "PIPE": "|"}


def parse_char(text: str, what: str) -> str:
    """A delimiter/quote option: one character, ``TAB``/``\\t``, or ``U+007C`` (Neo4j's forms)."""
    if text in _NAMED_CHARS or text.upper() in _NAMED_CHARS:
        return _NAMED_CHARS.get(text) or _NAMED_CHARS[text.upper()]
    m = re.fullmatch(r"[Uu]\+([0-9A-Fa-f]{1,6})", text)
    if m:
        return chr(int(m.group(1), 16))
    if len(text) != 1:
        raise CsvError(f"{what} must be one character (or TAB, or U+XXXX), not {text!r}")
    return text


class Dialect:
    """How the files are written: field delimiter, array delimiter, quote, text encoding."""

    def __init__(self, delimiter: str = ",", array_delimiter: str = ";", quote: str = '"',
                 encoding: str = "utf-8", id_type: str = "string"):
        self.delimiter = parse_char(delimiter, "--delimiter")
        self.array_delimiter = parse_char(array_delimiter, "--array-delimiter")
        self.quote = parse_char(quote, "--quote")
        if len({self.delimiter, self.array_delimiter, self.quote}) != 3 or "\n" in (self.delimiter,
                                                                                  self.array_delimiter, self.quote):
            raise CsvError("--delimiter, --array-delimiter and --quote must be three different characters, "
                           "none of them a newline")
        try:
            "".encode(encoding)
        except LookupError:
            raise CsvError(f"unknown --input-encoding {encoding!r} (try utf-8 or latin-1)") from None
        self.encoding = encoding
        if id_type not in ("string", "integer"):
            raise CsvError(f"--id-type must be string or integer, not {id_type!r} "
                           "(Neo4j's 'actual' has no meaning in lpgdb: ids are assigned)")
        self.id_type = id_type


class FileGroup:
    """One ``--nodes``/``--edges`` argument: extra labels (or the edge type) and its files."""

    def __init__(self, kind: str, labels: Tuple[str, ...], files: List[str], arg: str):
        self.kind, self.labels, self.files, self.arg = kind, labels, files, arg

    def __repr__(self) -> str:
        return f"FileGroup({self.kind}, {self.labels}, {self.files})"


def parse_group(kind: str, arg: str) -> FileGroup:
    """``[Label[:Label]=]file[,file...]`` (Neo4j's syntax) as a FileGroup.  A value naming an
    existing file is taken as that one file, whatever characters it holds."""
    if os.path.isfile(arg):
        return FileGroup(kind, (), [arg], arg)
    labels: Tuple[str, ...] = ()
    files = arg
    head, sep, rest = arg.partition("=")
    if sep and not os.path.isfile(head):
        labels = tuple(x for x in head.split(":") if x)
        files = rest
        if not labels:
            raise CsvError(f"--{kind}={arg}: nothing before '=' (write --{kind}=Label=FILE, or just the file)")
    paths = [f for f in files.split(",") if f]
    if not paths:
        raise CsvError(f"--{kind}={arg}: no file given")
    if kind == "edges" and len(labels) > 1:
        raise CsvError(f"--edges={arg}: give one relationship type before '=' (got {':'.join(labels)})")
    return FileGroup(kind, labels, paths, arg)


# ---- reading records (the inner loop) -----------------------------------------------------------------

class Quoted(str):
    """A field that was quoted: the empty one is the empty string, not "no value"."""
    __slots__ = ()


_UTF8_BOM = b"\xef\xbb\xbf"


def _open_text(path: str, encoding: str):
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise CsvError("no such file (check the path)", path=path) from None
    except IsADirectoryError:
        raise CsvError("is a directory, not a CSV file", path=path) from None
    except OSError as e:
        raise CsvError(f"cannot be read: {e.strerror}", path=path) from None
    head = f.read(4)
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        f.close()
        raise CsvError("is UTF-16 text; save it as UTF-8 (lpgdb reads UTF-8, or the --input-encoding you give)",
                       path=path)
    f.seek(3 if head.startswith(_UTF8_BOM) and encoding.replace("-", "").lower() in ("utf8", "utf8sig") else 0)
    return f


def read_records(path: str, dialect: Dialect, progress: Optional[Callable[[int], None]] = None
                 ) -> Iterator[Tuple[int, List[str]]]:
    """Yield ``(line, fields)`` for every record of ``path``: ``line`` is where the record starts
    (1-based), ``fields`` are str, ``Quoted`` for quoted ones; empty lines are skipped.
    ``progress(nbytes)`` is called with the bytes read.  O(file size)."""
    delim, quote, enc = dialect.delimiter, dialect.quote, dialect.encoding
    codec = "utf-8" if enc.replace("-", "").lower() in ("utf8", "utf8sig") else enc
    with _open_text(path, enc) as f:
        lineno = 0
        pending = 0

        def text_of(raw: bytes) -> str:
            try:
                return raw.decode(codec)
            except UnicodeDecodeError as e:
                col = len(raw[:e.start].decode(codec, "replace")) + 1
                raise CsvError(f"byte 0x{raw[e.start]:02x} (character {col} of the line) is not valid {codec} "
                               f"text; if the file is Latin-1 or Windows-1252, run again with --input-encoding "
                               f"latin-1 or cp1252 (or save the file as UTF-8)", path=path, line=lineno) from None

        raw_lines = iter(f)
        for raw in raw_lines:
            lineno += 1
            pending += len(raw)
            line = text_of(raw)
            start = lineno
            if quote not in line:
                line = line.rstrip("\r\n")
                if line:
                    yield start, line.split(delim)
            else:
                fields: List[str] = []
                i, n = 0, len(line)
                while True:
                    if i < n and line[i] == quote:
                        parts = []
                        j = i + 1
                        while True:
                            k = line.find(quote, j)
                            if k < 0:
                                parts.append(line[j:])
                                try:
                                    raw = next(raw_lines)
                                except StopIteration:
                                    raise CsvError(f"a quoted field opened here never closes (missing {quote})",
                                                   path=path, line=start, column=len(fields) + 1) from None
                                lineno += 1
                                pending += len(raw)
                                line, j = text_of(raw), 0
                                n = len(line)
                                continue
                            if k + 1 < n and line[k + 1] == quote:
                                parts.append(line[j:k + 1])
                                j = k + 2
                                continue
                            parts.append(line[j:k])
                            i = k + 1
                            break
                        fields.append(Quoted("".join(parts)))
                        if i >= n or line[i] in "\r\n":
                            break
                        if line[i] != delim:
                            raise CsvError(f"unexpected {line[i]!r} after a closing quote (a quote inside a "
                                           f"quoted field is written twice: {quote}{quote})",
                                           path=path, line=lineno, column=len(fields))
                        i += 1
                    else:
                        k = line.find(delim, i)
                        if k < 0:
                            fields.append(line[i:].rstrip("\r\n"))
                            break
                        fields.append(line[i:k])
                        i = k + 1
                if fields != [""]:
                    yield start, fields
            if progress is not None and pending >= 1 << 16:
                progress(pending)
                pending = 0
        if progress is not None and pending:
            progress(pending)


# ---- values -------------------------------------------------------------------------------------------

def _int(s: str) -> int:
    return int(s)


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
    "string": str, "int": _int, "long": _int, "short": _int, "byte": _int,
    "float": float, "double": float, "boolean": _bool, "char": _char,
    "date": _date, "localtime": _localtime, "time": _time, "localdatetime": _localdatetime,
    "datetime": _datetime, "duration": _duration,
}
_ROLES = ("ID", "LABEL", "START_ID", "END_ID", "TYPE", "IGNORE")
_EXAMPLES = {"int": "an integer such as 42", "long": "an integer such as 42", "short": "an integer",
             "byte": "an integer", "byte[]": "integers -128..255", "float": "a number such as 1.5",
             "double": "a number such as 1.5", "date": "an ISO 8601 date such as 2020-02-29",
             "localtime": "an ISO 8601 time such as 12:30:00", "time": "an ISO 8601 time such as 12:30:00+01:00",
             "localdatetime": "an ISO 8601 date-time such as 2020-02-29T12:30:00",
             "datetime": "an ISO 8601 date-time such as 2020-02-29T12:30:00+01:00",
             "duration": "an ISO 8601 duration such as P1DT2H30M, P1Y2M or PT0.5S"}


def _why(col: "Column", e: ValueError) -> str:
    """Our own parsers say what they expected; the standard ones (int, float, fromisoformat) don't."""
    own = col.parse in (_bool, _char, _bytes_of) or str(e).startswith("a local")
    return str(e) if own else f"expected {_EXAMPLES.get(col.type, 'a ' + str(col.type))}"


# ---- headers ------------------------------------------------------------------------------------------

class Column:
    """One header field: a role (``ID`` ... ``IGNORE``) or a typed property."""

    __slots__ = ("name", "role", "space", "type", "array", "parse", "field")

    def __init__(self, name, role, space, type_, array_, parse, field):
        self.name, self.role, self.space, self.type, self.array = name, role, space, type_, array_
        self.parse, self.field = parse, field

    def describe(self) -> str:
        return self.field or f"{self.name}:{self.type}"


class Header:
    """A parsed header: columns, and the conversion of a record into a node or edge row."""

    def __init__(self, group: FileGroup, fields: Sequence[str], path: str, line: int, dialect: Dialect):
        self.group, self.path, self.dialect = group, path, dialect
        self.columns: List[Column] = []
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
        if group.kind == "nodes":
            edge_roles = sorted({r for r in roles if r in ("START_ID", "END_ID", "TYPE")})
            if edge_roles:
                raise CsvError(f"this header has {', '.join(':' + r for r in edge_roles)}, so it describes "
                               f"relationships: pass the file with --edges (or --relationships), not --nodes",
                               path=path, line=line)
            if roles.count("ID") > 1:
                raise CsvError("a node header has at most one :ID column", path=path, line=line)
            if "LABEL" not in roles and not group.labels:
                what = ("neither an :ID nor a :LABEL column" if "ID" not in roles else "no :LABEL column")
                raise CsvError(f"this node header has {what}, so its nodes would have no labels (is it an "
                               f"admin-import file?); add a :LABEL column, or give the labels on the command "
                               f"line: --nodes=Person={group.arg}", path=path, line=line)
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
            if "TYPE" not in roles and not group.labels:
                raise CsvError(f"this relationship header has no :TYPE column; add one, or give the type on "
                               f"the command line: --edges=KNOWS={group.arg}", path=path, line=line)
            self.start_col, self.end_col = roles.index("START_ID"), roles.index("END_ID")
        self.label_cols = [i for i, r in enumerate(roles) if r in ("LABEL", "TYPE")]
        self._labels: Dict[tuple, frozenset] = {}
        self.props = [(i, c) for i, c in enumerate(self.columns) if c.role is None]

    def _column(self, field: str, path: str, line: int, i: int) -> Column:
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
                raise bad(f"only :ID, :START_ID and :END_ID take an ID space in parentheses")
            return Column(name.strip(), role, space, None, False, None, field)
        if sep and not name.strip():
            raise bad("a property column needs a name before the ':' (e.g. age:int)")
        many = typ.endswith("[]")
        base = (typ[:-2] if many else typ).strip().lower() or "string"
        if base == "point":
            raise bad("point values are not supported: lpgdb has no spatial type; store the coordinates "
                      "as two float columns (e.g. lat:float,lon:float)")
        if base == "byte" and many:
            return Column(name.strip(), None, "", "byte[]", True, _bytes_of, field)
        parse = _PARSERS.get(base)
        if parse is None:
            raise bad(f"unknown type {typ!r}; use one of {', '.join(sorted(_PARSERS))} (with [] for an "
                      f"array), or :ID, :LABEL, :START_ID, :END_ID, :TYPE, :IGNORE")
        return Column((name if sep else field).strip(), None, "", base, many, parse, field)

    def error(self, line: int, column: Optional[int], msg: str) -> CsvError:
        return CsvError(msg, path=self.path, line=line, column=column)

    def check_width(self, line: int, fields: List[str]) -> None:
        if len(fields) != self.width:
            raise CsvError(f"{len(fields)} fields, but the header has {self.width} (is the delimiter "
                           f"{self.dialect.delimiter!r} right? pass --delimiter otherwise)",
                           path=self.path, line=line)

    def properties(self, line: int, fields: List[str]) -> dict:
        """The row's property map (empty cells skipped).  Raises CsvError naming the column."""
        props = {}
        adelim = self.dialect.array_delimiter
        for i, col in self.props:
            cell = fields[i]
            if not cell and type(cell) is not Quoted:
                continue
            try:
                if col.array:
                    items = cell.split(adelim) if cell else []
                    props[col.name] = col.parse(items) if col.type == "byte[]" else [self._value(col, x) for x in items]
                else:
                    props[col.name] = self._value(col, cell)
            except ValueError as e:
                shown = cell if len(cell) <= 60 else cell[:57] + "..."
                raise self.error(line, i + 1, f"column {i + 1} ({col.describe()}): bad value {shown!r}: "
                                 f"{_why(col, e)}; fix the value, or declare the column with another type") from None
        return props

    #: ``fallback(type, text)``: the query language's reading of a temporal value Python's types
    #: cannot hold (nanoseconds, durations with months, other ISO 8601 forms); ValueError if none.
    fallback: Optional[Callable[[str, str], Any]] = None

    def _value(self, col: Column, text: str) -> Any:
        try:
            return col.parse(text)
        except _NeedsQuery:
            if self.fallback is None:
                raise ValueError(f"this {col.type} needs the query language's reading (import_csv gives it)") from None
            return self.fallback(col.type, text)

    def labels(self, fields: List[str]) -> frozenset:
        """The row's labels: one shared frozenset per distinct combination (bulk_load interns
        labels by identity, so repeated rows cost a dict probe)."""
        key = tuple(fields[i] for i in self.label_cols)
        hit = self._labels.get(key)
        if hit is None:
            out = set(self.group.labels)
            adelim = self.dialect.array_delimiter
            for cell in key:
                out.update(x for x in cell.split(adelim) if x)
            hit = self._labels[key] = frozenset(out)
        return hit

    def node_id(self, line: int, fields: List[str]):
        """``(space, key, property value)`` of the row's :ID, or None without an :ID column."""
        if self.id_col is None:
            return None
        col, cell = self.columns[self.id_col], fields[self.id_col]
        if not cell:
            raise self.error(line, self.id_col + 1, f"the :ID column ({col.describe()}) is empty; every node "
                             f"of a file with an :ID column needs an id")
        value = self._id_value(line, self.id_col, cell)
        return col.space, value, value

    def _id_value(self, line, i, cell):
        if self.dialect.id_type == "integer":
            try:
                return int(cell)
            except ValueError:
                raise self.error(line, i + 1, f"id {cell!r} is not an integer (--id-type integer); "
                                 f"use --id-type string") from None
        return str(cell)

    def endpoint(self, line: int, fields: List[str], which: str) -> Tuple[str, Any]:
        """``(space, key)`` of the row's start or end id."""
        i = self.start_col if which == "start" else self.end_col
        cell = fields[i]
        if not cell:
            raise self.error(line, i + 1, f"the :{which.upper()}_ID cell is empty")
        return self.columns[i].space, self._key(line, i, cell)

    def _key(self, line: int, i: int, cell: str):
        """The id as the ID-space tables hold it: the text, or an int with --id-type integer."""
        return str(cell) if self.dialect.id_type == "string" else self._id_value(line, i, cell)


# ---- import -------------------------------------------------------------------------------------------

class _Source:
    """Where each imported row came from: (file, line) per row, compactly (8 bytes a row)."""

    def __init__(self):
        self.files: List[Tuple[int, str]] = []   # (first row index, path)
        self.lines = array("Q")

    def add(self, path: str, line: int) -> None:
        if not self.files or self.files[-1][1] != path:
            self.files.append((len(self.lines), path))
        self.lines.append(line)

    def where(self, k: int) -> Optional[str]:
        if not 0 <= k < len(self.lines):
            return None
        path = next(p for first, p in reversed(self.files) if first <= k)
        return f"{path}:{self.lines[k]}"


def read_header(group: FileGroup, dialect: Dialect) -> Header:
    path = group.files[0]
    for line, fields in read_records(path, dialect):
        return Header(group, fields, path, line, dialect)
    raise CsvError("is empty: the first line of a group's first file must be the header", path=path)


def _group_rows(group: FileGroup, header: Header, dialect: Dialect, progress):
    """``(path, line, fields)`` of every data record of a group (header line skipped)."""
    for n, path in enumerate(group.files):
        first = True
        for line, fields in read_records(path, dialect, progress):
            if first and n == 0:
                first = False
                continue
            if len(fields) != header.width:
                header.check_width(line, fields)
            yield path, line, fields


def import_csv(db, node_groups: List[FileGroup], edge_groups: List[FileGroup], dialect: Optional[Dialect] = None,
               *, progress: Optional[Callable[[int], None]] = None) -> Dict[str, int]:
    """Load the groups into ``db`` in ONE ``db.bulk_load`` transaction: all or nothing.

    Every header is read and checked before any data.  Returns ``{"nodes": n, "edges": m}``.
    Raises CsvError (file, line, column) for a bad input, and the database's errors
    (SchemaViolationError, ...) for data it refuses; violations of nodes name the line that
    made the node.  ``progress(nbytes)`` is called as bytes are read.
    """
    dialect = dialect or Dialect()
    headers = [(g, read_header(g, dialect)) for g in node_groups]
    eheaders = [(g, read_header(g, dialect)) for g in edge_groups]
    fallback = _query_reader(db)
    for _, h in headers + eheaders:
        h.fallback = fallback
    spaces: Dict[str, Dict[Any, int]] = {}
    nodes_from, edges_from = _Source(), _Source()
    first_node: List[int] = []

    def nodes():
        k = 0
        for g, h in headers:
            for path, line, fields in _group_rows(g, h, dialect, progress):
                props = h.properties(line, fields)
                ident = h.node_id(line, fields)
                if ident is not None:
                    space, key, value = ident
                    if h.columns[h.id_col].name:
                        props[h.columns[h.id_col].name] = value
                    table = spaces.setdefault(space, {})
                    if key in table:
                        first = nodes_from.where(table[key])
                        raise CsvError(f"id {key!r} appears twice in ID space {space or '(global)'!r}; it was "
                                       f"first given at {first}; ids must be unique in their space",
                                       path=path, line=line, column=h.id_col + 1)
                    table[key] = k
                nodes_from.add(path, line)
                k += 1
                yield h.labels(fields), props

    def edges(node_ids: range):
        first_node.append(node_ids.start)
        for g, h in eheaders:
            for path, line, fields in _group_rows(g, h, dialect, progress):
                ends = []
                for which, col in (("start", h.start_col), ("end", h.end_col)):
                    space, key = h.endpoint(line, fields, which)
                    k = spaces.get(space, {}).get(key)
                    if k is None:
                        known = "" if space in spaces or not space else \
                            f" (no node file declares ID space {space!r}; known: {', '.join(map(repr, spaces)) or 'none'})"
                        raise CsvError(f"{'start' if which == 'start' else 'end'} node {key!r} is not an id "
                                       f"of the node files in ID space {space or '(global)'!r}{known}",
                                       path=path, line=line, column=col + 1)
                    ends.append(node_ids[k])
                edges_from.add(path, line)
                yield ends[0], h.labels(fields), ends[1], h.properties(line, fields)

    from .. import SchemaViolationError
    try:
        node_ids, edge_ids = db.bulk_load(nodes=nodes(), edges=edges)
    except SchemaViolationError as e:
        # The new nodes' ids are first_node + k (bulk_load's contract): say which line made each.
        e.import_sources = {}
        if first_node:
            for v in e.violations:
                if v.element == "node" and isinstance(v.id, int):
                    where = nodes_from.where(v.id - first_node[0])
                    if where is not None:
                        e.import_sources[v.id] = where
        raise
    return {"nodes": len(node_ids), "edges": len(edge_ids)}


def _query_reader(db) -> Callable[[str, str], Any]:
    """Read a temporal text the way the query language does (``duration('P1M')``, nanosecond
    times, ...), through ``db.execute``: one parser for the whole product."""
    from .. import Error

    def read(kind: str, text: str) -> Any:
        try:
            return db.execute(f"RETURN {kind}($text) AS v", {"text": text.strip()}).value()[0]
        except Error as e:
            raise ValueError(str(e).split("\n")[0]) from None
    return read


def read_import_args(directory: str) -> List[str]:
    """The arguments of ``DIR/import.args`` (written by export), with file paths made relative
    to ``DIR`` so that ``lpgdb import DB DIR`` works from anywhere."""
    path = os.path.join(directory, "import.args")
    try:
        with open(path, encoding="utf-8") as f:
            lines = [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
    except FileNotFoundError:
        raise CsvError(f"{directory!r} has no import.args: it is not a directory written by lpgdb export; "
                       f"name the files with --nodes and --edges") from None
    out = []
    for ln in lines:
        opt, sep, value = ln.partition("=")
        if opt in ("--nodes", "--edges", "--relationships") and sep:
            head, sep2, files = value.rpartition("=")
            files = ",".join(os.path.join(directory, p) for p in files.split(","))
            value = f"{head}={files}" if sep2 else files
        out.append(f"{opt}={value}" if sep else opt)
    return out


# ---- export -------------------------------------------------------------------------------------------

_ARRAY_DELIMITERS = (";", "|", "¦", "\u241e", "\x1f")


def _kind(v) -> str:
    """The CSV column type of a value."""
    t = type(v)
    if t is bool:
        return "boolean"
    if t is int:
        return "long"
    if t is float:
        return "double"
    if t is str:
        return "string"
    if t is bytes or t is bytearray:
        return "byte[]"
    if isinstance(v, dt.datetime):
        return "localdatetime" if v.tzinfo is None else "datetime"
    if isinstance(v, dt.date):
        return "date"
    if isinstance(v, dt.time):
        return "localtime" if v.tzinfo is None else "time"
    if isinstance(v, dt.timedelta):
        return "duration"
    if isinstance(v, Temporal):      # the query language's own values (nanoseconds, months)
        return _TEMPORAL_KIND[type(v)]
    if isinstance(v, list):
        kinds = {_kind(x) for x in v}
        if not kinds:
            return "[]"
        if len(kinds) > 1 or "byte[]" in kinds:
            raise DataError(f"a list mixing {', '.join(sorted(kinds))} values cannot be a CSV array column")
        return kinds.pop() + "[]"
    raise DataError(f"cannot export a {type(v).__name__} value to CSV")


_TEMPORAL_KIND = {LocalTime: "localtime", Time: "time", LocalDateTime: "localdatetime", DateTime: "datetime",
                  Duration: "duration", Date: "date"}


def _text(v, kind: str) -> str:
    if isinstance(v, Temporal):
        return str(v)
    if kind == "boolean":
        return "true" if v else "false"
    if kind == "double":
        if v != v:
            return "NaN"
        if v in (float("inf"), float("-inf")):
            return "Infinity" if v > 0 else "-Infinity"
        return repr(v)
    if kind in ("long", "string", "char"):
        return str(v)
    if kind == "duration":
        return temporal_text(v)
    if kind == "datetime":
        zone = getattr(v.tzinfo, "key", None)
        return v.isoformat() + (f"[{zone}]" if zone else "")
    return v.isoformat()


class _Writer:
    """A CSV writer that quotes only where needed, and writes '' (and empty arrays) as ``""``."""

    def __init__(self, f, delimiter: str, quote: str):
        self.f, self.d, self.q = f, delimiter, quote
        self.special = re.compile("[" + re.escape(delimiter + quote) + "\r\n]")

    def cell(self, text: Optional[str]) -> str:
        if text is None:
            return ""
        if text == "" or self.special.search(text) or text != text.strip():
            return self.q + text.replace(self.q, self.q + self.q) + self.q
        return text

    def row(self, cells) -> None:
        self.f.write(self.d.join(self.cell(c) for c in cells) + "\n")


def _file_name(prefix: str, labels: frozenset, used: set) -> str:
    stem = "_".join(re.sub(r"[^A-Za-z0-9_-]", "_", x) for x in sorted(labels)) or "nolabel"
    name, n = f"{prefix}.{stem}.csv", 1
    while name in used:
        n += 1
        name = f"{prefix}.{stem}.{n}.csv"
    used.add(name)
    return name


def export_csv(db, directory: str, *, delimiter: str = ",", layout: str = "per_label") -> Dict[str, Any]:
    """Write the graph into the new (or empty) ``directory``: one node file per label set, one
    edge file per label set (``layout="single"``: one ``nodes.csv`` and one ``edges.csv``, whose
    columns then need one type across all labels), and ``import.args`` for
    ``lpgdb import NEWDB DIR``.

    Returns ``{"nodes": n, "edges": m, "files": [...], "array_delimiter": c}``.
    Complexity: two passes over the graph; memory 8 bytes per element plus the column types.
    """
    if os.path.exists(directory) and (not os.path.isdir(directory) or os.listdir(directory)):
        raise CsvError(f"{directory!r} exists and is not an empty directory; export into a new one")
    delimiter = parse_char(delimiter, "--delimiter")
    with db.snapshot() as s:
        groups: Dict[Tuple[str, frozenset], Dict[str, Any]] = {}
        bad_delims = set()

        if layout not in ("per_label", "single"):
            raise CsvError(f"layout must be 'per_label' or 'single', not {layout!r}")
        single = layout == "single"

        def scan(kind, element):
            g = groups.setdefault((kind, frozenset() if single else element.labels), {"ids": array("Q"), "cols": {}})
            g["ids"].append(element.id)
            cols = g["cols"]
            for k, v in element.properties.items():
                t = _kind(v)
                if isinstance(v, list):
                    for x in v:
                        if isinstance(x, str):
                            bad_delims.update(d for d in _ARRAY_DELIMITERS if d in x)
                            if x == "" and len(v) == 1:
                                raise DataError(f"{kind[:-1]} {element.id}: the list [''] (one empty string) "
                                                f"cannot be written in the CSV format: it reads back as []")
                have = cols.get(k)
                if have is None or have == "[]":
                    cols[k] = t
                elif t != have and t != "[]":
                    whose = "" if single else f" labelled {':'.join(sorted(element.labels)) or '(none)'}"
                    raise DataError(f"property {k!r} of the {kind}{whose} holds both {have} and {t} values; a CSV "
                                    f"column has one type: make the values one type first (e.g. SET n.{k} = "
                                    f"toString(n.{k})))")

        for n in s.nodes():
            scan("nodes", n)
        for e in s.edges():
            scan("edges", e)
        adelim = next((d for d in _ARRAY_DELIMITERS if d not in bad_delims and d != delimiter), None)
        if adelim is None:
            raise DataError("every candidate array delimiter (; | ¦ ␞ and U+001F) occurs inside some string in a "
                            "list property; such lists cannot be written in the CSV format")
        os.makedirs(directory, exist_ok=True)
        used: set = set()
        files = {"nodes": [], "edges": []}
        counts = {"nodes": 0, "edges": 0}
        for (kind, labels), g in sorted(groups.items(), key=lambda kv: (kv[0][0] == "edges", sorted(kv[0][1]))):
            cols = sorted((k, "string[]" if t == "[]" else t) for k, t in g["cols"].items())
            name = f"{kind}.csv" if single else _file_name(kind, labels, used)
            files[kind].append(name)
            with open(os.path.join(directory, name), "w", encoding="utf-8", newline="") as f:
                w = _Writer(f, delimiter, '"')
                head = [":ID", ":LABEL"] if kind == "nodes" else [":START_ID", ":END_ID", ":TYPE"]
                w.row(head + [f"{k}:{t}" for k, t in cols])
                get = s.node if kind == "nodes" else s.edge
                for eid in g["ids"]:
                    x = get(eid)
                    lead = [str(x.id), adelim.join(sorted(x.labels))] if kind == "nodes" else \
                        [str(x.src), str(x.dst), adelim.join(sorted(x.labels))]
                    cells = []
                    for k, t in cols:
                        v = x.properties.get(k)
                        if v is None:
                            cells.append(None)
                        elif t == "byte[]":
                            cells.append(adelim.join(str(b - 256 if b > 127 else b) for b in v))
                        elif t.endswith("[]"):
                            cells.append(adelim.join(_text(y, t[:-2]) for y in v))
                        else:
                            cells.append(_text(v, t))
                    w.row(lead + cells)
                    counts[kind] += 1
    with open(os.path.join(directory, "import.args"), "w", encoding="utf-8") as f:
        f.write("# lpgdb import NEWDB THIS_DIRECTORY   (paths below are relative to this directory)\n")
        if delimiter != ",":
            f.write(f"--delimiter=U+{ord(delimiter):04X}\n")
        f.write(f"--array-delimiter=U+{ord(adelim):04X}\n")
        for name in files["nodes"]:
            f.write(f"--nodes={name}\n")
        for name in files["edges"]:
            f.write(f"--edges={name}\n")
    return {**counts, "files": files["nodes"] + files["edges"], "array_delimiter": adelim}
