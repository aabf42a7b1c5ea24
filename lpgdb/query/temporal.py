"""Temporal values of the query language: Date, LocalTime, Time, LocalDateTime, DateTime, Duration.

The six classes (nanosecond precision) are defined in lpgdb/values.py, the one module that
decides what a value is (their fields, equality, ordering, text form and canonical stored form).
Owns: their construction from strings (ISO 8601 forms), maps and other temporal values,
component accessors (``component``: ``d.year``, ``t.nanosecond``, ...), arithmetic with
durations, truncation and differences, and the conversion from stored Python ``datetime``
values (``from_python``) and back (``to_python``: ``values.canonical``).
Must not: know about clauses or the graph.

Invariants: those of lpgdb/values.py (time of day in ns since midnight; offsets in seconds plus
an IANA name for DateTime values built with a named zone; a Duration is (months, days, ns),
each with its own sign, as in openCypher).
Truncation: ``date.truncate(unit, value [, map])`` and the same for the other types.
Differences: ``duration.between``, ``duration.inMonths``, ``duration.inDays``, ``duration.inSeconds``.
The current time: ``date()``, ``datetime.statement()``, ... (one fixed instant per query run, UTC
unless a time zone is passed); ``datetime.fromepoch``, ``datetime.fromepochmillis``.
Not supported: years outside 1..9999 (DataError).
"""
from __future__ import annotations

import datetime as _dt
import math
import re
from fractions import Fraction
from typing import Optional

from ..values import Date, DateTime, Duration, LocalDateTime, LocalTime, Temporal, Time, canonical, offset_of, \
    offset_seconds, time_of_day
from ..values import _offset_text as _offset_str
from .diagnostics import argument_error, type_error

__all__ = ["Temporal", "Date", "LocalTime", "Time", "LocalDateTime", "DateTime", "Duration", "CONSTRUCTORS",
           "component", "from_python", "to_python", "to_python_if_exact"]

_NS = 10 ** 9
_DAY_NS = 86_400 * _NS
_MONTH_SECONDS = 2_629_746  # average Gregorian month (30.436875 days)


def _bad(msg):
    return argument_error(msg, "InvalidArgumentValue")


def component(v, key):
    """``v.key`` for a temporal value (``d.year``, ``t.offset``, ``dur.minutesOfHour``, ...);
    None for a key the value does not have."""
    t = type(v)
    if t is Duration:
        return _duration_prop(v, key)
    if t is Date:
        return _date_prop(v.d, key)
    if t is LocalTime:
        return _time_prop(v.ns, key)
    if t is Time:
        r = _zone_prop(v.offset, None, key)
        return r if r is not _MISSING else _time_prop(v.ns, key)
    if t is LocalDateTime:
        r = _date_prop(v.d, key, missing=True)
        return r if r is not _MISSING else _time_prop(v.ns, key)
    if key == "epochSeconds":
        return v.epoch_ns() // _NS
    if key == "epochMillis":
        return v.epoch_ns() // 1_000_000
    r = _zone_prop(v.offset, v.zone, key)
    if r is not _MISSING:
        return r
    r = _date_prop(v.d, key, missing=True)
    return r if r is not _MISSING else _time_prop(v.ns, key)


def _jdiv(a: int, b: int) -> int:
    """Integer division truncating toward zero (Java's, which Neo4j's components use)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _duration_prop(v, key):
    """Components as Neo4j reads them: the seconds are floored, so the nanoseconds of the
    second are never negative (PT-0.1S has seconds -1 and nanosecondsOfSecond 900000000)."""
    secs, sub = divmod(v.ns, _NS)
    m = v.months
    table = {
        "years": _jdiv(m, 12), "quarters": _jdiv(m, 3), "months": m,
        "weeks": _jdiv(v.days, 7), "days": v.days,
        "hours": _jdiv(secs, 3600), "minutes": _jdiv(secs, 60), "seconds": secs,
        "milliseconds": secs * 1000 + sub // 1_000_000, "microseconds": secs * 1_000_000 + sub // 1000,
        "nanoseconds": v.ns,
        "quartersOfYear": _jdiv(m - 12 * _jdiv(m, 12), 3),
        "monthsOfQuarter": m - 3 * _jdiv(m, 3),
        "monthsOfYear": m - 12 * _jdiv(m, 12),
        "daysOfWeek": v.days - 7 * _jdiv(v.days, 7),
        "minutesOfHour": _jdiv(secs, 60) - 60 * _jdiv(secs, 3600),
        "secondsOfMinute": secs - 60 * _jdiv(secs, 60),
        "millisecondsOfSecond": sub // 1_000_000, "microsecondsOfSecond": sub // 1000,
        "nanosecondsOfSecond": sub,
    }
    return table.get(key)


_EPOCH = _dt.date(1970, 1, 1).toordinal()
_MAX_ORDINAL = _dt.date.max.toordinal()
_MISSING = object()


def _date_prop(d: _dt.date, key, missing=False):
    iso = d.isocalendar()
    table = {
        "year": d.year, "month": d.month, "day": d.day, "quarter": (d.month - 1) // 3 + 1,
        "week": iso[1], "weekYear": iso[0], "dayOfWeek": iso[2], "weekDay": iso[2],
        "ordinalDay": d.timetuple().tm_yday,
        "dayOfQuarter": (d - _dt.date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)).days + 1,
    }
    if key in table:
        return table[key]
    return _MISSING if missing else None


def _time_prop(ns, key):
    table = {"hour": ns // (3600 * _NS), "minute": ns // (60 * _NS) % 60, "second": ns // _NS % 60,
             "millisecond": ns % _NS // 1_000_000, "microsecond": ns % _NS // 1000, "nanosecond": ns % _NS}
    return table.get(key)


def _zone_prop(offset, zone, key):
    if key == "timezone":
        return zone or _offset_str(offset)
    if key == "offset":
        return _offset_str(offset)
    if key == "offsetMinutes":
        return offset // 60
    if key == "offsetSeconds":
        return offset
    return _MISSING


# ---------------------------------------------------------------- parsing strings
_DATE_RES = [
    (re.compile(r"(\d{4})-(\d{2})-(\d{2})"), "ymd"), (re.compile(r"(\d{4})(\d{2})(\d{2})"), "ymd"),
    (re.compile(r"(\d{4})-W(\d{2})-(\d)"), "wd"), (re.compile(r"(\d{4})W(\d{2})(\d)"), "wd"),
    (re.compile(r"(\d{4})-W(\d{2})"), "w"), (re.compile(r"(\d{4})W(\d{2})"), "w"),
    (re.compile(r"(\d{4})-Q(\d)-(\d{2})"), "qd"), (re.compile(r"(\d{4})Q(\d)(\d{2})"), "qd"),
    (re.compile(r"(\d{4})-(\d{3})"), "o"), (re.compile(r"(\d{4})(\d{3})"), "o"),
    (re.compile(r"(\d{4})-(\d{2})"), "ym"), (re.compile(r"(\d{4})(\d{2})"), "ym"),
    (re.compile(r"(\d{4})"), "y"),
]
_TIME_RE = re.compile(r"(\d{2})(?::?(\d{2})(?::?(\d{2})(?:[.,](\d{1,9}))?)?)?")
_ZONE_RE = re.compile(r"(Z|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?)?(?:\[([^\]]+)\])?$")


def _week_date(year, week, dow=1):
    try:
        return _dt.date.fromisocalendar(year, week, dow)
    except ValueError:
        raise _bad(f"invalid week date {year}-W{week}-{dow}") from None


def _ordinal_date(year: int, day: int) -> _dt.date:
    """Day ``day`` (1-based) of ``year``; ValueError past the year's last day (no wrap)."""
    first = _dt.date(year, 1, 1)
    if not 1 <= day <= (_dt.date(year, 12, 31) - first).days + 1:
        raise ValueError(f"day {day} of {year}")
    return first + _dt.timedelta(days=day - 1)


def _quarter_date(year: int, quarter: int, day: int) -> _dt.date:
    """Day ``day`` (1-based) of quarter ``quarter`` of ``year``; ValueError for a quarter outside
    1..4 or a day past the quarter's last (no wrap into the next quarter)."""
    if not 1 <= quarter <= 4:
        raise ValueError(f"quarter {quarter}")
    first = _dt.date(year, 3 * quarter - 2, 1)
    end = _dt.date(year + 1, 1, 1) if quarter == 4 else _dt.date(year, 3 * quarter + 1, 1)
    if not 1 <= day <= (end - first).days:
        raise ValueError(f"day {day} of quarter {quarter}")
    return first + _dt.timedelta(days=day - 1)


def _parse_date(s: str) -> _dt.date:
    for rx, kind in _DATE_RES:
        m = rx.fullmatch(s)
        if not m:
            continue
        g = [int(x) for x in m.groups()]
        try:
            if kind == "ymd":
                return _dt.date(*g)
            if kind == "ym":
                return _dt.date(g[0], g[1], 1)
            if kind == "y":
                return _dt.date(g[0], 1, 1)
            if kind == "wd":
                return _week_date(*g)
            if kind == "w":
                return _week_date(g[0], g[1])
            if kind == "qd":
                return _quarter_date(*g)
            if kind == "o":
                return _ordinal_date(*g)
        except ValueError:
            raise _bad(f"invalid date '{s}'") from None
    raise _bad(f"cannot parse '{s}' as a date")


def _parse_time(s: str):
    """-> (ns, offset or None, zone or None)"""
    m = _TIME_RE.match(s)
    if not m:
        raise _bad(f"cannot parse '{s}' as a time")
    h, mi, se, frac = m.groups()
    ns = time_of_day(int(h), int(mi or 0), int(se or 0), int((frac or "0").ljust(9, "0")))
    if ns is None:
        raise _bad(f"invalid time '{s}': hours go to 23, minutes and seconds to 59")
    rest = s[m.end():]
    zm = _ZONE_RE.fullmatch(rest)
    if not zm:
        raise _bad(f"cannot parse '{s}' as a time")
    off, zone = zm.groups()
    return ns, (_parse_offset(off) if off else None), zone


def _parse_offset(s: str) -> int:
    if s == "Z":
        return 0
    digits = s[1:].replace(":", "")
    off = offset_seconds(-1 if s[0] == "-" else 1, int(digits[:2]), int(digits[2:4] or 0), int(digits[4:6] or 0))
    if off is None:
        raise _bad(f"invalid UTC offset '{s}': offsets go from -18:00 to +18:00, minutes and seconds to 59")
    return off


def _zone_offset(zone: str, d: _dt.date, ns: int) -> int:
    try:
        from zoneinfo import ZoneInfo
        tz = ZoneInfo(zone)
    except Exception:
        raise _bad(f"unknown time zone '{zone}'") from None
    local = _dt.datetime.combine(d, _dt.time()) + _dt.timedelta(microseconds=ns // 1000)
    return int(tz.utcoffset(local).total_seconds())


def _parse_tz(value) -> tuple:
    """A timezone argument ('+01:00', 'Z', 'Europe/Stockholm') -> (offset or None, zone name or None)."""
    if not isinstance(value, str):
        raise type_error("timezone must be a string")
    if re.fullmatch(r"Z|[+-]\d{2}(:?\d{2}(:?\d{2})?)?", value):
        return _parse_offset(value), None
    return None, value


def _split_dt(s: str):
    if "T" not in s:
        return s, None
    d, t = s.split("T", 1)
    return d, t


def _parse_duration(s: str) -> Duration:
    m = re.fullmatch(r"([-+]?)P(?:([-+]?[\d.]+)Y)?(?:([-+]?[\d.]+)M)?(?:([-+]?[\d.]+)W)?(?:([-+]?[\d.]+)D)?"
                     r"(?:T(?:([-+]?[\d.]+)H)?(?:([-+]?[\d.]+)M)?(?:([-+]?[\d.,]+)S)?)?", s)
    if m and s not in ("P", "PT") and not s.endswith("T"):
        sign, y, mo, w, d, h, mi, se = m.groups()
        parts = {"years": y, "months": mo, "weeks": w, "days": d, "hours": h, "minutes": mi, "seconds": se}
        vals = {k: _num(v.replace(",", ".")) for k, v in parts.items() if v is not None}
        dur = _duration_from_map(vals)
        return _neg(dur) if sign == "-" else dur
    m = re.fullmatch(r"P(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2}(?:\.\d+)?)", s)
    if m:
        y, mo, d, h, mi, se = m.groups()
        return _duration_from_map({"years": int(y), "months": int(mo), "days": int(d), "hours": int(h),
                                   "minutes": int(mi), "seconds": _num(se)})
    raise _bad(f"cannot parse '{s}' as a duration")


def _num(s: str):
    return float(s) if "." in s else int(s)


_I64 = 1 << 63


def _duration(months: int, days: int, ns: int) -> Duration:
    """A Duration made by the query language, checked: each part fits in 64 bits (values.py
    invariant (3)), else a NumberOutOfRange error (storing it would fail, and Neo4j refuses it)."""
    if -_I64 <= months < _I64 and -_I64 <= days < _I64 and -_I64 <= ns < _I64:
        return Duration(months, days, ns)
    raise argument_error("duration out of range: its months, days and nanoseconds must each fit in 64 bits",
                         "NumberOutOfRange")


def _neg(d: Duration) -> Duration:
    return _duration(-d.months, -d.days, -d.ns)


# ---------------------------------------------------------------- construction from maps
_TIME_KEYS = ("hour", "minute", "second", "millisecond", "microsecond", "nanosecond")


def _time_from_map(m, base_ns=None) -> int:
    """Time of day from map components; unspecified ones come from ``base_ns`` (or are 0)."""
    b = base_ns or 0
    bh, bmi, bs, bfrac = b // (3600 * _NS), b // (60 * _NS) % 60, b // _NS % 60, b % _NS
    if base_ns is None:
        h, mi, se = _int_arg(m, "hour", 0), _int_arg(m, "minute", 0), _int_arg(m, "second", 0)
    else:
        h, mi, se = _int_arg(m, "hour", bh), _int_arg(m, "minute", bmi), _int_arg(m, "second", bs)
    # sub-second parts: each unspecified one comes from the base (milli, micro, nano digits)
    bms, bus, bns = (bfrac // 1_000_000, bfrac // 1000 % 1000, bfrac % 1000) if base_ns is not None else (0, 0, 0)
    frac = (_int_arg(m, "millisecond", bms) * 1_000_000 + _int_arg(m, "microsecond", bus) * 1000
            + _int_arg(m, "nanosecond", bns))
    ns = time_of_day(h, mi, se, frac)
    if ns is None:
        raise _bad(f"invalid time {m}")
    return ns


def _int_arg(m, key, default):
    v = m.get(key)
    if v is None:
        return default
    if type(v) is not int:
        raise type_error(f"temporal component '{key}' must be an integer")
    return v


def _date_from_map(m, base: Optional[_dt.date] = None) -> _dt.date:
    if base is not None and not any(k in m for k in ("year", "month", "day", "week", "dayOfWeek", "ordinalDay",
                                                       "quarter", "dayOfQuarter")):
        return base
    try:
        if base is not None:
            if "week" in m or "dayOfWeek" in m:
                iso = base.isocalendar()
                return _week_date(_int_arg(m, "year", iso[0]), _int_arg(m, "week", iso[1]),
                                  _int_arg(m, "dayOfWeek", iso[2]))
            if "ordinalDay" in m:
                return _ordinal_date(_int_arg(m, "year", base.year), _int_arg(m, "ordinalDay", 1))
            if "quarter" in m or "dayOfQuarter" in m:
                q0 = (base.month - 1) // 3 + 1
                doq = (base - _dt.date(base.year, 3 * (q0 - 1) + 1, 1)).days + 1
                return _quarter_date(_int_arg(m, "year", base.year), _int_arg(m, "quarter", q0),
                                     _int_arg(m, "dayOfQuarter", doq))
            return _dt.date(_int_arg(m, "year", base.year), _int_arg(m, "month", base.month),
                            _int_arg(m, "day", base.day))
        if "year" not in m:
            raise _bad("a date needs at least a year")
        y = _int_arg(m, "year", 1)
        if "week" in m:
            return _week_date(y, _int_arg(m, "week", 1), _int_arg(m, "dayOfWeek", 1))
        if "ordinalDay" in m:
            return _ordinal_date(y, _int_arg(m, "ordinalDay", 1))
        if "quarter" in m:
            return _quarter_date(y, _int_arg(m, "quarter", 1), _int_arg(m, "dayOfQuarter", 1))
        return _dt.date(y, _int_arg(m, "month", 1), _int_arg(m, "day", 1))
    except (ValueError, OverflowError):
        raise _bad(f"invalid date {m}") from None


def _duration_from_map(m) -> Duration:
    """Fractions cascade down as in Neo4j: a fraction of a month becomes days (a month of
    30.436875 days), a fraction of a day seconds, a fraction of a second nanoseconds; whole
    seconds never roll over into days."""
    for k, v in m.items():
        if v is not None and (type(v) not in (int, float)):
            raise type_error(f"duration component '{k}' must be a number")
        if type(v) is float and not math.isfinite(v):
            raise argument_error(f"duration component '{k}' must be a finite number, not {v}", "NumberOutOfRange")
    if any(type(v) is float for v in m.values()):     # exact rational arithmetic, no float drift
        m = {k: Fraction(v) for k, v in m.items()}
    months = m.get("years", 0) * 12 + m.get("months", 0)
    days = m.get("weeks", 0) * 7 + m.get("days", 0)
    secs = m.get("hours", 0) * 3600 + m.get("minutes", 0) * 60 + m.get("seconds", 0)
    ns = m.get("milliseconds", 0) * 1_000_000 + m.get("microseconds", 0) * 1000 + m.get("nanoseconds", 0)
    whole_months = int(months)
    if months != whole_months:
        days += (months - whole_months) * Fraction(_MONTH_SECONDS, 86_400)
    whole_days = int(days)
    if days != whole_days:
        secs += (days - whole_days) * 86_400
    whole_s = int(secs)
    if secs != whole_s:
        ns += (secs - whole_s) * _NS
    return _duration(whole_months, whole_days, whole_s * _NS + round(ns))


def _select(m, *keys):
    for k in keys:
        if k in m and m[k] is not None:
            return m[k]
    return None


def _tz_of(m, d=None, ns=0):
    if "timezone" not in m:
        return None, None
    off, zone = _parse_tz(m["timezone"])
    if zone is not None:
        off = _zone_offset(zone, d or _dt.date(2000, 1, 1), ns)
    return off, zone


def make_date(arg):
    if isinstance(arg, str):
        return Date(_parse_date(arg))
    if isinstance(arg, (Date, LocalDateTime, DateTime)):
        return Date(arg.d)
    if isinstance(arg, dict):
        src = _select(arg, "date", "datetime")
        base = src.d if src is not None else None
        return Date(_date_from_map(arg, base))
    raise type_error("date() expects a string, a map or a temporal value")


def make_localtime(arg):
    if isinstance(arg, str):
        ns, _, _ = _parse_time(arg)
        return LocalTime(ns)
    if isinstance(arg, (LocalTime, Time, LocalDateTime, DateTime)):
        return LocalTime(arg.ns)
    if isinstance(arg, dict):
        src = _select(arg, "time", "datetime", "localtime")
        return LocalTime(_time_from_map(arg, src.ns if src is not None else None))
    raise type_error("localtime() expects a string, a map or a temporal value")


def make_time(arg):
    if isinstance(arg, str):
        ns, off, zone = _parse_time(arg)
        if zone is not None and off is None:
            off = _zone_offset(zone, _dt.date.today(), ns)
        return Time(ns, off or 0)
    if isinstance(arg, (Time, DateTime)):
        return Time(arg.ns, arg.offset)
    if isinstance(arg, (LocalTime, LocalDateTime)):
        return Time(arg.ns, 0)
    if isinstance(arg, dict):
        src = _select(arg, "time", "datetime", "localtime")
        base = src.ns if src is not None else None
        src_off = getattr(src, "offset", None)
        off, _ = _tz_of(arg, getattr(src, "d", None), base or 0)
        if off is not None and src_off is not None:
            base = (base - src_off * _NS + off * _NS) % _DAY_NS  # the same instant in the new zone
        ns = _time_from_map(arg, base)
        if off is None:
            off = src_off or 0
        return Time(ns, off)
    raise type_error("time() expects a string, a map or a temporal value")


def make_localdatetime(arg):
    if isinstance(arg, str):
        ds, ts = _split_dt(arg)
        return LocalDateTime(_parse_date(ds), _parse_time(ts)[0] if ts else 0)
    if isinstance(arg, (LocalDateTime, DateTime)):
        return LocalDateTime(arg.d, arg.ns)
    if isinstance(arg, Date):
        return LocalDateTime(arg.d, 0)
    if isinstance(arg, dict):
        dsrc = _select(arg, "date", "datetime")
        tsrc = _select(arg, "time", "datetime")
        d = _date_from_map(arg, dsrc.d if dsrc is not None else None)
        ns = _time_from_map(arg, tsrc.ns if tsrc is not None and hasattr(tsrc, "ns") else None)
        return LocalDateTime(d, ns)
    raise type_error("localdatetime() expects a string, a map or a temporal value")


def make_datetime(arg):
    if isinstance(arg, str):
        ds, ts = _split_dt(arg)
        d = _parse_date(ds)
        if ts is None:
            return DateTime(d, 0, 0)
        ns, off, zone = _parse_time(ts)
        if zone is not None:
            zoff = _zone_offset(zone, d, ns)
            off = zoff if off is None else off
        return DateTime(d, ns, off or 0, zone)
    if isinstance(arg, DateTime):
        return arg
    if isinstance(arg, LocalDateTime):
        return DateTime(arg.d, arg.ns, 0)
    if isinstance(arg, Date):
        return DateTime(arg.d, 0, 0)
    if isinstance(arg, dict):
        if "epochSeconds" in arg or "epochMillis" in arg:
            total = _int_arg(arg, "epochSeconds", 0) * _NS + _int_arg(arg, "epochMillis", 0) * 1_000_000 \
                + _int_arg(arg, "nanosecond", 0)
            days, ns = divmod(total, _DAY_NS)
            if not 1 <= _EPOCH + days <= _MAX_ORDINAL:
                raise _bad(f"epoch time {total // _NS} s is outside the years 1 to 9999")
            return DateTime(_dt.date.fromordinal(_EPOCH + days), ns, 0)
        dsrc = _select(arg, "date", "datetime")
        tsrc = _select(arg, "time", "datetime")
        src_off = getattr(tsrc, "offset", None)
        src_zone = getattr(tsrc, "zone", None)
        base_d = dsrc.d if dsrc is not None else None
        base_ns = tsrc.ns if tsrc is not None and hasattr(tsrc, "ns") else None
        if src_zone is not None and tsrc is not dsrc and base_ns is not None and base_d is not None:
            # the source's wall-clock time in its named zone, on the date being built
            src_off = _zone_offset(src_zone, _date_from_map(arg, base_d), base_ns)
        if "timezone" in arg:
            off, zone = _parse_tz(arg["timezone"])
            if src_off is not None and base_ns is not None:
                # the source instant, seen in the new zone, is the base for the overrides
                if zone is not None:
                    off = _zone_offset(zone, base_d or _dt.date(1970, 1, 1), base_ns)
                shifted = base_ns - src_off * _NS + off * _NS
                if tsrc is dsrc and base_d is not None:
                    days, base_ns = divmod(shifted, _DAY_NS)
                    base_d = base_d + _dt.timedelta(days=days)
                else:
                    base_ns = shifted % _DAY_NS
            d = _date_from_map(arg, base_d)
            ns = _time_from_map(arg, base_ns)
            if zone is not None:
                off = _zone_offset(zone, d, ns)
            return DateTime(d, ns, off, zone)
        d = _date_from_map(arg, base_d)
        ns = _time_from_map(arg, base_ns)
        if src_off is not None:
            if src_zone is not None:
                return DateTime(d, ns, _zone_offset(src_zone, d, ns), src_zone)
            return DateTime(d, ns, src_off)
        return DateTime(d, ns, 0)
    raise type_error("datetime() expects a string, a map or a temporal value")


def make_duration(arg):
    if isinstance(arg, str):
        return _parse_duration(arg)
    if isinstance(arg, Duration):
        return arg
    if isinstance(arg, dict):
        return _duration_from_map({k: v for k, v in arg.items() if v is not None})
    raise type_error("duration() expects a string or a map")


def _now(ctx, tz=None) -> DateTime:
    """The statement's clock: one fixed instant per query run (UTC unless ``tz`` is given)."""
    now = getattr(ctx, "now", None)
    if now is None:
        utc = _dt.datetime.now(_dt.timezone.utc)
        now = DateTime(utc.date(), ((utc.hour * 60 + utc.minute) * 60 + utc.second) * _NS + utc.microsecond * 1000,
                       0)
        if ctx is not None:
            ctx.now = now
    if tz is not None:
        return make_datetime({"datetime": now, "timezone": tz})
    return now


def _wrap(name, fn, current=True):
    def f(ctx, args):
        if not args:
            if not current:
                raise type_error(f"{name}() needs an argument")
            return fn(_now(ctx))
        v = args[0]
        if v is None:
            return None
        return fn(v)
    return f


CONSTRUCTORS = {"date": _wrap("date", make_date), "localtime": _wrap("localtime", make_localtime),
                "time": _wrap("time", make_time), "localdatetime": _wrap("localdatetime", make_localdatetime),
                "datetime": _wrap("datetime", make_datetime),
                "duration": _wrap("duration", make_duration, current=False)}


def _clock(make):
    """X.transaction(tz?), X.statement(tz?), X.realtime(tz?): the current time (fixed per query)."""
    def f(ctx, args):
        if args and args[0] is None:
            return None
        return make(_now(ctx, args[0] if args else None))
    return f


for _kind, _make in (("date", make_date), ("localtime", make_localtime), ("time", make_time),
                     ("localdatetime", make_localdatetime), ("datetime", make_datetime)):
    for _clk in ("transaction", "statement", "realtime"):
        CONSTRUCTORS[f"{_kind}.{_clk}"] = _clock(_make)


def _from_epoch(ctx, args):
    secs, nanos = args
    if secs is None or nanos is None:
        return None
    return make_datetime({"epochSeconds": secs, "nanosecond": nanos})


def _from_epoch_millis(ctx, args):
    if args[0] is None:
        return None
    return make_datetime({"epochMillis": args[0]})


CONSTRUCTORS["datetime.fromepoch"] = _from_epoch
CONSTRUCTORS["datetime.fromepochmillis"] = _from_epoch_millis


# ---------------------------------------------------------------- truncation
_DATE_UNITS = ("millennium", "century", "decade", "year", "weekyear", "quarter", "month", "week", "day")
_TIME_UNITS = {"hour": 3600 * _NS, "minute": 60 * _NS, "second": _NS, "millisecond": 1_000_000,
               "microsecond": 1000}


def _truncate_parts(unit: str, t):
    """(date or None, ns) of ``t`` truncated to ``unit``."""
    u = unit.lower() if isinstance(unit, str) else None
    d = getattr(t, "d", None)
    ns = getattr(t, "ns", 0)
    if u in _DATE_UNITS:
        if d is None:
            raise _bad(f"cannot truncate a {t.kind} to unit '{unit}'")
        if u == "millennium":
            d = _dt.date(d.year // 1000 * 1000, 1, 1)
        elif u == "century":
            d = _dt.date(d.year // 100 * 100, 1, 1)
        elif u == "decade":
            d = _dt.date(d.year // 10 * 10, 1, 1)
        elif u == "year":
            d = _dt.date(d.year, 1, 1)
        elif u == "weekyear":
            d = _week_date(d.isocalendar()[0], 1, 1)
        elif u == "quarter":
            d = _dt.date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)
        elif u == "month":
            d = _dt.date(d.year, d.month, 1)
        elif u == "week":
            d = d - _dt.timedelta(days=d.isoweekday() - 1)
        return d, 0
    if u in _TIME_UNITS:
        step = _TIME_UNITS[u]
        return d, ns - ns % step
    raise _bad(f"unknown truncation unit '{unit}'")


def _truncate(kind):
    def f(ctx, args):
        unit, t = args[0], args[1]
        m = args[2] if len(args) > 2 and args[2] is not None else {}
        if t is None:
            return None
        if not isinstance(t, Temporal) or isinstance(t, Duration):
            raise type_error(f"{kind}.truncate() expects a temporal value, got {type(t).__name__}")
        d, ns = _truncate_parts(unit, t)
        if kind in ("date", "localdatetime", "datetime"):
            d = _date_from_map(m, d)
        ns = _time_from_map(m, ns)
        if kind == "date":
            return Date(d)
        if kind == "localtime":
            return LocalTime(ns)
        if kind == "localdatetime":
            return LocalDateTime(d, ns)
        off, zone = getattr(t, "offset", 0), getattr(t, "zone", None)
        if "timezone" in m:
            off, zone = _parse_tz(m["timezone"])
        if zone is not None:
            off = _zone_offset(zone, d or _dt.date(1970, 1, 1), ns)
        if kind == "time":
            return Time(ns, off)
        return DateTime(d, ns, off, zone)
    return f


TRUNCATE = {f"{k}.truncate": _truncate(k) for k in ("date", "localtime", "time", "localdatetime", "datetime")}


# ---------------------------------------------------------------- duration.between and friends
def _between_parts(a, b):
    """(months, total difference in ns, has_dates) from ``a`` to ``b``."""
    ad, bd = getattr(a, "d", None), getattr(b, "d", None)
    ans, bns = getattr(a, "ns", 0), getattr(b, "ns", 0)
    aoff, boff = getattr(a, "offset", None), getattr(b, "offset", None)
    # a local value is read in the other value's time zone (on its date, if it has none)
    if aoff is None and boff is not None:
        zone = getattr(b, "zone", None)
        aoff = _zone_offset(zone, ad or bd or _dt.date(1970, 1, 1), ans) if zone else boff
    elif boff is None and aoff is not None:
        zone = getattr(a, "zone", None)
        boff = _zone_offset(zone, bd or ad or _dt.date(1970, 1, 1), bns) if zone else aoff
    if aoff is not None and boff is not None and aoff != boff:
        # both are zoned: express b in a's offset
        shift = (aoff - boff) * _NS
        if bd is not None:
            days, bns = divmod(bns + shift, _DAY_NS)
            bd = bd + _dt.timedelta(days=days)
        else:
            bns = bns + shift
    if ad is None or bd is None:
        return 0, bns - ans, False
    months = (bd.year - ad.year) * 12 + (bd.month - ad.month)
    if months > 0 and (bd.day, bns) < (ad.day, ans):
        months -= 1
    elif months < 0 and (bd.day, bns) > (ad.day, ans):
        months += 1
    total = (bd.toordinal() - ad.toordinal()) * _DAY_NS + (bns - ans)
    return months, total, True


def _between(kind):
    def f(ctx, args):
        a, b = args
        if a is None or b is None:
            return None
        for x in (a, b):
            if not isinstance(x, Temporal) or isinstance(x, Duration):
                raise type_error(f"duration.{kind}() expects two temporal values")
        months, total, has_dates = _between_parts(a, b)
        if kind == "inSeconds":
            return _duration(0, 0, total)
        if kind == "inDays":
            return _duration(0, int(total / _DAY_NS), 0)
        if kind == "inMonths":
            return _duration(months, 0, 0)
        if not has_dates:
            return _duration(0, 0, total)
        mid = _add_months(a.d, months)
        rest = total - (mid.toordinal() - a.d.toordinal()) * _DAY_NS
        days = int(rest / _DAY_NS)
        return _duration(months, days, rest - days * _DAY_NS)
    return f


BETWEEN = {f"duration.{k.lower()}": _between(k) for k in ("between", "inMonths", "inDays", "inSeconds")}


# ---------------------------------------------------------------- arithmetic
def _add_months(d: _dt.date, months: int) -> _dt.date:
    y, m = divmod(d.month - 1 + months, 12)
    y += d.year
    import calendar
    last = calendar.monthrange(y, m + 1)[1]
    return _dt.date(y, m + 1, min(d.day, last))


def add(t, dur: Duration, sign=1):
    """temporal + sign * duration"""
    months, days, ns = sign * dur.months, sign * dur.days, sign * dur.ns
    if isinstance(t, Duration):
        return _duration(t.months + months, t.days + days, t.ns + ns)
    try:
        if isinstance(t, Date):
            d = _add_months(t.d, months) + _dt.timedelta(days=days + int(ns / _DAY_NS))
            return Date(d)
        if isinstance(t, (LocalTime, Time)):
            new = (t.ns + ns) % _DAY_NS
            return LocalTime(new) if isinstance(t, LocalTime) else Time(new, t.offset)
        d = _add_months(t.d, months) + _dt.timedelta(days=days)
        total = t.ns + ns
        extra, rest = divmod(total, _DAY_NS)
        d = d + _dt.timedelta(days=extra)
        if isinstance(t, LocalDateTime):
            return LocalDateTime(d, rest)
        off = _zone_offset(t.zone, d, rest) if t.zone else t.offset
        return DateTime(d, rest, off, t.zone)
    except (OverflowError, ValueError):
        raise argument_error("temporal arithmetic out of range", "NumberOutOfRange") from None


def scale(dur: Duration, k) -> Duration:
    if isinstance(k, int):
        return _duration(dur.months * k, dur.days * k, dur.ns * k)
    secs = int(dur.ns / _NS)          # seconds and nanoseconds scale apart (as Neo4j does)
    return _duration_from_map({"months": dur.months * k, "days": dur.days * k, "seconds": secs * k,
                               "nanoseconds": (dur.ns - secs * _NS) * k})


# ---------------------------------------------------------------- storage (Python datetime types)
def to_python(v):
    """A temporal value in its stored form (``values.canonical``: the Python ``datetime`` type
    when that holds it exactly, else the value itself; Durations stay Durations)."""
    return canonical(v)


def to_python_if_exact(v):
    """The Python datetime value when it represents ``v`` exactly, else ``v`` itself (what a
    query returns).  Durations stay Durations: a timedelta would renormalise their signs
    (PT-6H vs P-1DT18H)."""
    return canonical(v)


def from_python(v):
    """A stored Python datetime value as a query temporal value (other values unchanged)."""
    t = type(v)
    if t is _dt.date:
        return Date(v)
    if t is _dt.datetime:
        ns = ((v.hour * 60 + v.minute) * 60 + v.second) * _NS + v.microsecond * 1000
        off = offset_of(v, None)
        if off is None:
            return LocalDateTime(v.date(), ns)
        return DateTime(v.date(), ns, off, getattr(v.tzinfo, "key", None))
    if t is _dt.time:
        ns = ((v.hour * 60 + v.minute) * 60 + v.second) * _NS + v.microsecond * 1000
        off = offset_of(v, None)
        return LocalTime(ns) if off is None else Time(ns, off)
    if t is _dt.timedelta:
        return _duration(0, v.days, (v.seconds * 1_000_000 + v.microseconds) * 1000)
    return v
