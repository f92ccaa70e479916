//! Kyverno's time functions on RFC 3339 strings and Go durations.

use jiff::Zoned;
use jiff::tz::TimeZone;
use jmespath::{Context, JmespathError, Rcvar};
use palisade_engine::units::{format_duration, parse_duration};

use crate::golayout::{self, format_rfc3339, from_unix_nanos, parse_rfc3339, unix_nanos};
use crate::util::{FnResult, boolean, fail, str_arg, string};

/// Nanoseconds between Go's zero time (0001-01-01 UTC) and the Unix epoch.
const ZERO_TO_UNIX_NANOS: i128 = 62_135_596_800 * 1_000_000_000;

fn time_arg(ctx: &Context<'_>, name: &str, args: &[Rcvar], index: usize) -> Result<Zoned, JmespathError> {
    let text = str_arg(ctx, name, args, index)?;
    parse_rfc3339(text).map_err(|e| fail(ctx, e))
}

fn duration_arg(ctx: &Context<'_>, name: &str, args: &[Rcvar], index: usize) -> Result<i64, JmespathError> {
    let text = str_arg(ctx, name, args, index)?;
    parse_duration(text).ok_or_else(|| fail(ctx, format!("time: invalid duration {text:?}")))
}

/// `t2 - t1` as Go's `Duration.String()` (saturating like `Time.Sub`).
fn diff(t1: &Zoned, t2: &Zoned) -> String {
    let d = unix_nanos(t2) - unix_nanos(t1);
    format_duration(d.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
}

fn now() -> Zoned {
    Zoned::now()
}

pub(crate) fn time_since(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let layout = str_arg(ctx, "time_since", args, 0)?;
    let layout = if layout.is_empty() { golayout::RFC3339 } else { layout };
    let t1 = golayout::parse(layout, str_arg(ctx, "time_since", args, 1)?).map_err(|e| fail(ctx, e))?;
    let end = str_arg(ctx, "time_since", args, 2)?;
    let t2 = if end.is_empty() { now() } else { golayout::parse(layout, end).map_err(|e| fail(ctx, e))? };
    string(diff(&t1, &t2))
}

pub(crate) fn time_now(_args: &[Rcvar], _ctx: &mut Context<'_>) -> FnResult {
    string(format_rfc3339(&now()))
}

pub(crate) fn time_now_utc(_args: &[Rcvar], _ctx: &mut Context<'_>) -> FnResult {
    string(format_rfc3339(&now().with_time_zone(TimeZone::UTC)))
}

pub(crate) fn time_to_cron(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let t = time_arg(ctx, "time_to_cron", args, 0)?;
    let weekday = t.weekday().to_sunday_zero_offset();
    string(format!("{} {} {} {} {}", t.minute(), t.hour(), t.day(), t.month(), weekday))
}

pub(crate) fn time_add(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let t = time_arg(ctx, "time_to_cron", args, 0)?;
    let d = duration_arg(ctx, "time_to_cron", args, 1)?;
    let shifted = from_unix_nanos(unix_nanos(&t) + i128::from(d), &t).map_err(|e| fail(ctx, e))?;
    string(format_rfc3339(&shifted))
}

pub(crate) fn time_parse(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let layout = str_arg(ctx, "time_parse", args, 0)?;
    let value = str_arg(ctx, "time_parse", args, 1)?;
    if layout.parse::<i64>().is_ok() {
        let secs: i64 =
            value.parse().map_err(|_| fail(ctx, format!("strconv.ParseInt: parsing {value:?}: invalid syntax")))?;
        let ts = jiff::Timestamp::from_second(secs).map_err(|e| fail(ctx, e.to_string()))?;
        return string(format_rfc3339(&ts.to_zoned(TimeZone::UTC)));
    }
    let t = golayout::parse(layout, value).map_err(|e| fail(ctx, e))?;
    string(format_rfc3339(&t))
}

pub(crate) fn time_utc(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let t = time_arg(ctx, "time_utc", args, 0)?;
    string(format_rfc3339(&t.with_time_zone(TimeZone::UTC)))
}

pub(crate) fn time_diff(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let t1 = time_arg(ctx, "time_diff", args, 0)?;
    let t2 = time_arg(ctx, "time_diff", args, 1)?;
    string(diff(&t1, &t2))
}

pub(crate) fn time_before(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let t1 = time_arg(ctx, "time_before", args, 0)?;
    let t2 = time_arg(ctx, "time_before", args, 1)?;
    boolean(t1.timestamp() < t2.timestamp())
}

pub(crate) fn time_after(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let t1 = time_arg(ctx, "time_after", args, 0)?;
    let t2 = time_arg(ctx, "time_after", args, 1)?;
    boolean(t1.timestamp() > t2.timestamp())
}

pub(crate) fn time_between(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let t = time_arg(ctx, "time_between", args, 0)?;
    let start = time_arg(ctx, "time_between", args, 1)?;
    let end = time_arg(ctx, "time_between", args, 2)?;
    boolean(t.timestamp() > start.timestamp() && t.timestamp() < end.timestamp())
}

pub(crate) fn time_truncate(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let t = time_arg(ctx, "time_truncate", args, 0)?;
    let d = duration_arg(ctx, "time_truncate", args, 1)?;
    if d <= 0 {
        return string(format_rfc3339(&t));
    }
    // Go truncates relative to its zero time, not to the Unix epoch.
    let since_zero = unix_nanos(&t) + ZERO_TO_UNIX_NANOS;
    let truncated = unix_nanos(&t) - since_zero.rem_euclid(i128::from(d));
    string(format_rfc3339(&from_unix_nanos(truncated, &t).map_err(|e| fail(ctx, e))?))
}
