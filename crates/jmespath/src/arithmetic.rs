//! Kyverno's arithmetic on numbers, resource quantities and durations: add, sum, subtract, multiply,
//! divide, modulo and round, with Kyverno's type rules and error messages.

use jmespath::{Context, JmespathError, Rcvar, Variable};
use palisade_engine::units::{Quantity, format_duration, parse_duration};

use crate::util::{self, FnResult, generic, num_arg, string};

/// One arithmetic operand as Kyverno classifies it.
enum Operand {
    Scalar(f64),
    Quantity(Quantity),
    Duration(i64),
}

fn operand(v: &Variable) -> Option<Operand> {
    match v {
        Variable::Number(n) => n.as_f64().map(Operand::Scalar),
        Variable::String(s) => {
            Quantity::parse(s).map(Operand::Quantity).or_else(|| parse_duration(s).map(Operand::Duration))
        }
        _ => None,
    }
}

fn operands(args: &[Rcvar], ctx: &Context<'_>, op: &str) -> Result<(Operand, Operand), JmespathError> {
    match (args.first().and_then(|v| operand(v)), args.get(1).and_then(|v| operand(v))) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(generic(ctx, op, "invalid operands")),
    }
}

fn mismatch(ctx: &Context<'_>, op: &str) -> JmespathError {
    generic(ctx, op, "Types mismatch")
}

fn zero_division(ctx: &Context<'_>, op: &str) -> JmespathError {
    generic(ctx, op, "Zero divisor passed")
}

fn overflow(ctx: &Context<'_>, op: &str) -> JmespathError {
    generic(ctx, op, "result out of range")
}

/// Go's `Duration.Seconds()`.
fn seconds(d: i64) -> f64 {
    (d / 1_000_000_000) as f64 + (d % 1_000_000_000) as f64 / 1e9
}

/// Go's `time.Duration(seconds * float64(time.Second))` (saturating where Go is undefined).
fn duration_from_seconds(s: f64) -> i64 {
    (s * 1e9) as i64
}

fn add_values(args: &[Rcvar], ctx: &Context<'_>, op: &str) -> FnResult {
    match operands(args, ctx, op)? {
        (Operand::Scalar(a), Operand::Scalar(b)) => util::num(a + b),
        (Operand::Quantity(a), Operand::Quantity(b)) => string(a.add(&b).ok_or_else(|| overflow(ctx, op))?.to_string()),
        (Operand::Duration(a), Operand::Duration(b)) => {
            string(format_duration(a.checked_add(b).ok_or_else(|| overflow(ctx, op))?))
        }
        _ => Err(mismatch(ctx, op)),
    }
}

pub(crate) fn add(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    add_values(args, ctx, "add")
}

pub(crate) fn sum(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let Some(items) = args.first().and_then(|v| v.as_array()) else {
        return Err(generic(ctx, "sum", "Types mismatch"));
    };
    let Some(first) = items.first() else {
        return Err(generic(ctx, "sum", "at least one element in the array is required"));
    };
    let mut result = Rcvar::clone(first);
    for item in &items[1..] {
        result = add_values(&[result, Rcvar::clone(item)], ctx, "sum")?;
    }
    Ok(result)
}

pub(crate) fn subtract(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let op = "subtract";
    match operands(args, ctx, op)? {
        (Operand::Scalar(a), Operand::Scalar(b)) => util::num(a - b),
        (Operand::Quantity(a), Operand::Quantity(b)) => string(a.sub(&b).ok_or_else(|| overflow(ctx, op))?.to_string()),
        (Operand::Duration(a), Operand::Duration(b)) => {
            string(format_duration(a.checked_sub(b).ok_or_else(|| overflow(ctx, op))?))
        }
        _ => Err(mismatch(ctx, op)),
    }
}

fn quantity_times(q: &Quantity, f: f64, ctx: &Context<'_>, op: &str) -> FnResult {
    let factor = Quantity::from_go_float(f).ok_or_else(|| {
        generic(ctx, op, "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    })?;
    string(q.mul(&factor).ok_or_else(|| overflow(ctx, op))?.to_string())
}

pub(crate) fn multiply(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let op = "multiply";
    match operands(args, ctx, op)? {
        (Operand::Scalar(a), Operand::Scalar(b)) => util::num(a * b),
        (Operand::Quantity(q), Operand::Scalar(f)) | (Operand::Scalar(f), Operand::Quantity(q)) => {
            quantity_times(&q, f, ctx, op)
        }
        (Operand::Duration(d), Operand::Scalar(f)) | (Operand::Scalar(f), Operand::Duration(d)) => {
            string(format_duration(duration_from_seconds(seconds(d) * f)))
        }
        _ => Err(mismatch(ctx, op)),
    }
}

pub(crate) fn divide(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let op = "divide";
    match operands(args, ctx, op)? {
        (Operand::Scalar(a), Operand::Scalar(b)) => {
            if b == 0.0 {
                return Err(zero_division(ctx, op));
            }
            util::num(a / b)
        }
        (Operand::Quantity(a), Operand::Quantity(b)) => {
            let divisor = b.as_f64();
            if divisor == 0.0 {
                return Err(zero_division(ctx, op));
            }
            util::num(a.as_f64() / divisor)
        }
        (Operand::Quantity(a), Operand::Scalar(f)) => {
            if f == 0.0 {
                return Err(zero_division(ctx, op));
            }
            let divisor = Quantity::from_go_float(f).ok_or_else(|| overflow(ctx, op))?;
            string(a.quo_trunc(&divisor).ok_or_else(|| overflow(ctx, op))?.to_string())
        }
        (Operand::Duration(a), Operand::Duration(b)) => {
            if seconds(b) == 0.0 {
                return Err(zero_division(ctx, op));
            }
            util::num(seconds(a) / seconds(b))
        }
        (Operand::Duration(d), Operand::Scalar(f)) => {
            if f == 0.0 {
                return Err(zero_division(ctx, op));
            }
            string(format_duration(duration_from_seconds(seconds(d) / f)))
        }
        _ => Err(mismatch(ctx, op)),
    }
}

/// The integer value of `f`, or Kyverno's non-integer modulo error.
fn modulo_int(f: f64, ctx: &Context<'_>) -> Result<i64, JmespathError> {
    let i = f as i64;
    if f != i as f64 {
        return Err(generic(ctx, "modulo", "Non-integer argument(s) passed for modulo"));
    }
    Ok(i)
}

pub(crate) fn modulo(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let op = "modulo";
    match operands(args, ctx, op)? {
        (Operand::Scalar(a), Operand::Scalar(b)) => {
            let (x, y) = (modulo_int(a, ctx)?, modulo_int(b, ctx)?);
            if y == 0 {
                return Err(zero_division(ctx, op));
            }
            util::num(x.wrapping_rem(y) as f64)
        }
        (Operand::Quantity(a), Operand::Quantity(b)) => {
            let (x, y) = (modulo_int(a.as_f64(), ctx)?, modulo_int(b.as_f64(), ctx)?);
            if y == 0 {
                return Err(zero_division(ctx, op));
            }
            string(Quantity::from_i64(x.wrapping_rem(y), a.format()).to_string())
        }
        (Operand::Duration(a), Operand::Duration(b)) => {
            if b == 0 {
                return Err(zero_division(ctx, op));
            }
            string(format_duration(a.wrapping_rem(b)))
        }
        _ => Err(mismatch(ctx, op)),
    }
}

pub(crate) fn round(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let value = num_arg(ctx, "round", args, 0)?;
    let digits = num_arg(ctx, "round", args, 1)?;
    if digits.fract() != 0.0 || !digits.is_finite() {
        return Err(generic(ctx, "round", "Non-integer argument(s) passed for round off"));
    }
    if digits < 0.0 {
        return Err(generic(ctx, "round", format!("2 argument is out of bounds ({digits})")));
    }
    let shift = 10f64.powf(digits);
    util::num((value * shift).round() / shift)
}
