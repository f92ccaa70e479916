//! Parsing and printing times with Go's reference-time layouts (`2006-01-02T15:04:05Z07:00`).

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{Offset, TimeZone};
use jiff::{Timestamp, Zoned};

/// Go's `time.RFC3339` layout.
pub const RFC3339: &str = "2006-01-02T15:04:05Z07:00";

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/// Layout elements, longest first so that prefixes do not shadow them.
const CHUNKS: &[&str] = &[
    "January",
    "Monday",
    "2006",
    "-07:00:00",
    "Z07:00:00",
    "-070000",
    "Z070000",
    "-07:00",
    "Z07:00",
    "-0700",
    "Z0700",
    "Jan",
    "Mon",
    "MST",
    "-07",
    "Z07",
    "002",
    "_2",
    "01",
    "02",
    "03",
    "04",
    "05",
    "06",
    "15",
    "PM",
    "pm",
    "1",
    "2",
    "3",
    "4",
    "5",
];

#[derive(Default)]
struct Fields {
    year: i16,
    month: Option<i8>,
    day: Option<i8>,
    hour: i8,
    minute: i8,
    second: i8,
    nanos: i32,
    pm: Option<bool>,
    offset: Option<i32>,
}

fn err(value: &str, layout: &str, rest: &str, elem: &str) -> String {
    format!("parsing time {value:?} as {layout:?}: cannot parse {rest:?} as {elem:?}")
}

/// Takes 1–`max` digits (exactly `max` when `fixed`) from the front of `s`.
fn digits(s: &str, max: usize, fixed: bool) -> Option<(i64, &str)> {
    let n = s.bytes().take(max).take_while(u8::is_ascii_digit).count();
    if n == 0 || (fixed && n != max) {
        return None;
    }
    Some((s[..n].parse().ok()?, &s[n..]))
}

fn name_index<'a>(s: &'a str, names: &[&str], short: bool) -> Option<(usize, &'a str)> {
    names.iter().enumerate().find_map(|(i, n)| {
        let n = if short { &n[..3] } else { n };
        let head = s.get(..n.len())?;
        head.eq_ignore_ascii_case(n).then(|| (i, &s[n.len()..]))
    })
}

fn parse_offset<'a>(s: &'a str, elem: &str) -> Option<(i32, &'a str)> {
    if elem.starts_with('Z') && s.starts_with('Z') {
        return Some((0, &s[1..]));
    }
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let body = elem.trim_start_matches(['Z', '-']);
    let colon = body.contains(':');
    let groups = body.replace(':', "").len() / 2;
    let (mut secs, mut rest) = digits(&s[1..], 2, true)?;
    secs *= 3600;
    for unit in [60, 1].iter().take(groups.saturating_sub(1)) {
        if colon {
            rest = rest.strip_prefix(':')?;
        }
        let (v, r) = digits(rest, 2, true)?;
        secs += v * unit;
        rest = r;
    }
    Some(((sign * secs) as i32, rest))
}

/// Parses `value` with a Go layout; a value without a zone is in UTC (as Go's `time.Parse`).
pub fn parse(layout: &str, value: &str) -> Result<Zoned, String> {
    let mut f = Fields::default();
    let mut lay = layout;
    let mut val = value;
    while !lay.is_empty() {
        let next = lay.char_indices().find_map(|(i, _)| {
            CHUNKS
                .iter()
                .find(|c| lay[i..].starts_with(**c))
                .map(|c| (i, *c))
                .or_else(|| fraction_at(&lay[i..]).map(|c| (i, c)))
        });
        let (pos, elem) = next.unwrap_or((lay.len(), ""));
        let literal = &lay[..pos];
        val = val.strip_prefix(literal).ok_or_else(|| err(value, layout, val, literal))?;
        lay = &lay[pos + elem.len()..];
        if elem.is_empty() {
            break;
        }
        let bad = || err(value, layout, val, elem);
        val = match elem {
            "2006" => {
                let (y, r) = digits(val, 4, true).ok_or_else(bad)?;
                f.year = y as i16;
                r
            }
            "06" => {
                let (y, r) = digits(val, 2, true).ok_or_else(bad)?;
                f.year = (if y >= 69 { 1900 + y } else { 2000 + y }) as i16;
                r
            }
            "January" | "Jan" => {
                let (m, r) = name_index(val, &MONTHS, elem == "Jan").ok_or_else(bad)?;
                f.month = Some(m as i8 + 1);
                r
            }
            "Monday" | "Mon" => name_index(val, &DAYS, elem == "Mon").ok_or_else(bad)?.1,
            "01" | "1" => {
                let (m, r) = digits(val, 2, elem == "01").ok_or_else(bad)?;
                f.month = Some(m as i8);
                r
            }
            "02" | "2" | "_2" => {
                let v = if elem == "_2" { val.strip_prefix(' ').unwrap_or(val) } else { val };
                let (d, r) = digits(v, 2, elem == "02").ok_or_else(bad)?;
                f.day = Some(d as i8);
                r
            }
            "002" => digits(val, 3, true).ok_or_else(bad)?.1,
            "15" | "03" | "3" => {
                let (h, r) = digits(val, 2, elem == "03").ok_or_else(bad)?;
                f.hour = h as i8;
                r
            }
            "04" | "4" => {
                let (m, r) = digits(val, 2, elem == "04").ok_or_else(bad)?;
                f.minute = m as i8;
                r
            }
            "05" | "5" => {
                let (s, mut r) = digits(val, 2, elem == "05").ok_or_else(bad)?;
                f.second = s as i8;
                // Go accepts a fractional second after the seconds even when the layout has none.
                if fraction_at(lay).is_none()
                    && r.len() >= 2
                    && r.starts_with(['.', ','])
                    && r.as_bytes()[1].is_ascii_digit()
                {
                    let n = r[1..].bytes().take_while(u8::is_ascii_digit).count();
                    f.nanos = nanos(&r[1..1 + n]);
                    r = &r[1 + n..];
                }
                r
            }
            "PM" | "pm" => {
                let head = val.get(..2).ok_or_else(bad)?;
                f.pm = Some(match head.to_ascii_uppercase().as_str() {
                    "PM" => true,
                    "AM" => false,
                    _ => return Err(bad()),
                });
                &val[2..]
            }
            "MST" => {
                let n = val.bytes().take_while(u8::is_ascii_uppercase).count();
                if n < 3 {
                    return Err(bad());
                }
                f.offset.get_or_insert(0);
                &val[n..]
            }
            e if e.starts_with(['.', ',']) => {
                let sep = &val[..1.min(val.len())];
                if !(sep == "." || sep == ",") {
                    return Err(bad());
                }
                let n = val[1..].bytes().take_while(u8::is_ascii_digit).count();
                if e.as_bytes()[1] == b'0' && n != e.len() - 1 {
                    return Err(bad());
                }
                f.nanos = nanos(&val[1..1 + n]);
                &val[1 + n..]
            }
            _ => {
                let (off, r) = parse_offset(val, elem).ok_or_else(bad)?;
                f.offset = Some(off);
                r
            }
        };
    }
    if !val.is_empty() {
        return Err(format!("parsing time {value:?}: extra text: {val:?}"));
    }
    build(&f, value)
}

/// A fractional-second element (`.000`, `.999`, `,000`) at the start of `s`, if any.
fn fraction_at(s: &str) -> Option<&'static str> {
    const FRACTIONS: [&str; 18] = [
        ".000000000",
        ".999999999",
        ".00000000",
        ".99999999",
        ".0000000",
        ".9999999",
        ".000000",
        ".999999",
        ".00000",
        ".99999",
        ".0000",
        ".9999",
        ".000",
        ".999",
        ".00",
        ".99",
        ".0",
        ".9",
    ];
    let b = s.as_bytes();
    if b.len() < 2 || !(b[0] == b'.' || b[0] == b',') {
        return None;
    }
    FRACTIONS.iter().copied().find(|f| {
        s.len() >= f.len() && s[1..f.len()] == f[1..] && !s.as_bytes().get(f.len()).is_some_and(u8::is_ascii_digit)
    })
}

fn nanos(digits: &str) -> i32 {
    let mut padded: String = digits.chars().take(9).collect();
    while padded.len() < 9 {
        padded.push('0');
    }
    padded.parse().unwrap_or(0)
}

fn build(f: &Fields, value: &str) -> Result<Zoned, String> {
    let mut hour = f.hour;
    match f.pm {
        Some(true) if hour < 12 => hour += 12,
        Some(false) if hour == 12 => hour = 0,
        _ => {}
    }
    let out_of_range = |what: &str| format!("parsing time {value:?}: {what} out of range");
    let date = Date::new(f.year, f.month.unwrap_or(1), f.day.unwrap_or(1)).map_err(|_| out_of_range("day"))?;
    let time = Time::new(hour, f.minute, f.second, f.nanos).map_err(|_| out_of_range("hour"))?;
    let offset = Offset::from_seconds(f.offset.unwrap_or(0)).map_err(|_| out_of_range("zone offset"))?;
    DateTime::from_parts(date, time)
        .to_zoned(TimeZone::fixed(offset))
        .map_err(|e| format!("parsing time {value:?}: {e}"))
}

/// Parses an RFC 3339 time as Go's `time.Parse(time.RFC3339, …)` does.
pub fn parse_rfc3339(value: &str) -> Result<Zoned, String> {
    parse(RFC3339, value)
}

/// Formats as Go's `t.Format(time.RFC3339)`: whole seconds, `Z` for a zero offset.
pub fn format_rfc3339(t: &Zoned) -> String {
    let dt = t.datetime();
    let off = t.offset().seconds();
    let zone = if off == 0 {
        "Z".to_string()
    } else {
        let sign = if off < 0 { '-' } else { '+' };
        let a = off.abs();
        format!("{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60)
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{zone}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

/// The instant as nanoseconds since the Unix epoch.
pub fn unix_nanos(t: &Zoned) -> i128 {
    t.timestamp().as_nanosecond()
}

/// A zoned time at `nanos` since the epoch, in `like`'s offset.
pub fn from_unix_nanos(nanos: i128, like: &Zoned) -> Result<Zoned, String> {
    let ts = Timestamp::from_nanosecond(nanos).map_err(|e| e.to_string())?;
    Ok(ts.to_zoned(like.time_zone().clone()))
}
