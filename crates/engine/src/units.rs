//! Kubernetes resource quantities (`resource.Quantity`) and Go durations (`time.Duration`),
//! parsed, compared, combined and printed exactly as Kubernetes and Kyverno do.

use std::cmp::Ordering;
use std::fmt;

/// How a [`Quantity`] prints itself, chosen from the suffix it was parsed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuantityFormat {
    /// Powers of ten written as an exponent: `1e3`, `12e-3`.
    DecimalExponent,
    /// Powers of two: `Ki`, `Mi`, `Gi`, `Ti`, `Pi`, `Ei`.
    BinarySI,
    /// SI powers of ten: `n`, `u`, `m`, ``, `k`, `M`, `G`, `T`, `P`, `E`.
    DecimalSI,
}

/// A Kubernetes resource quantity: an exact decimal `unscaled × 10^-scale` and its print format.
///
/// The scale is kept as Kubernetes keeps it (it matters for Kyverno's `divide`); equality and
/// ordering compare values only.
#[derive(Debug, Clone)]
pub struct Quantity {
    unscaled: i128,
    scale: i32,
    format: QuantityFormat,
    cached: Option<Box<str>>,
}

const DEC_SUFFIXES: [(&str, i32); 10] =
    [("n", -9), ("u", -6), ("m", -3), ("", 0), ("k", 3), ("M", 6), ("G", 9), ("T", 12), ("P", 15), ("E", 18)];
const BIN_SUFFIXES: [(&str, u32); 6] = [("Ki", 10), ("Mi", 20), ("Gi", 30), ("Ti", 40), ("Pi", 50), ("Ei", 60)];
const MAX_ALLOWED: i128 = i64::MAX as i128;
const MAX_EXPONENT: i64 = 4096;

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

/// Rescales `unscaled × 10^-from` to scale `to >= from`; `None` on overflow.
fn upscale(unscaled: i128, from: i32, to: i32) -> Option<i128> {
    unscaled.checked_mul(pow10(u32::try_from(to - from).ok()?)?)
}

impl Quantity {
    /// Parses a quantity exactly like `resource.ParseQuantity`; `None` where Kubernetes errors.
    pub fn parse(text: &str) -> Option<Quantity> {
        if text.is_empty() {
            return None;
        }
        if text == "0" {
            return Some(Quantity {
                unscaled: 0,
                scale: 0,
                format: QuantityFormat::DecimalSI,
                cached: Some("0".into()),
            });
        }
        let (positive, num, denom, suffix) = split_quantity(text)?;
        let (base2, exponent, format) = interpret_suffix(suffix)?;
        if let Some(q) = fast_path(text, positive, num, denom, base2, exponent, format) {
            return Some(q);
        }
        // Exact decimal path (`inf.Dec` upstream).
        let digits = [num, denom].concat();
        let mut unscaled: i128 = digits.parse().ok()?;
        let mut scale = i32::try_from(denom.len()).ok()?;
        if base2 {
            unscaled = unscaled.checked_mul(1i128.checked_shl(u32::try_from(exponent).ok()?)?)?;
        } else {
            scale -= exponent;
        }
        if unscaled != 0 {
            (unscaled, scale) = round_up_to_nano(unscaled, scale)?;
        }
        if format != QuantityFormat::DecimalExponent && cmp_parts(unscaled, scale, MAX_ALLOWED, 0) == Ordering::Greater
        {
            (unscaled, scale) = (MAX_ALLOWED, 0);
        }
        if !positive {
            unscaled = -unscaled;
        }
        Some(Quantity { unscaled, scale, format, cached: None })
    }

    /// A quantity holding the integer `value` (as `resource.NewQuantity`).
    pub fn from_i64(value: i64, format: QuantityFormat) -> Quantity {
        Quantity { unscaled: i128::from(value), scale: 0, format, cached: None }
    }

    /// The quantity Go gets from `resource.ParseQuantity(fmt.Sprintf("%v", value))`; `None` for NaN/∞.
    pub fn from_go_float(value: f64) -> Option<Quantity> {
        if !value.is_finite() {
            return None;
        }
        if value == 0.0 {
            return Quantity::parse("0");
        }
        // Shortest round-trip digits, as Go's strconv uses them.
        let sci = format!("{:e}", value.abs());
        let (mantissa, exp) = sci.split_once('e')?;
        let exp: i32 = exp.parse().ok()?;
        let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
        let nd = i32::try_from(digits.len()).ok()?;
        let dp = exp + 1;
        let (scale, format) = if !(-4..6).contains(&exp) {
            (nd - dp, QuantityFormat::DecimalExponent)
        } else {
            ((nd - dp).max(0), QuantityFormat::DecimalSI)
        };
        let mut unscaled: i128 = digits.parse().ok()?;
        if nd < dp && format == QuantityFormat::DecimalSI {
            unscaled = upscale(unscaled, 0, dp - nd)?;
        }
        if value < 0.0 {
            unscaled = -unscaled;
        }
        Some(Quantity { unscaled, scale, format, cached: None })
    }

    /// The print format.
    pub fn format(&self) -> QuantityFormat {
        self.format
    }

    /// The decimal scale (digits after the point; negative for multiples of powers of ten).
    pub fn scale(&self) -> i32 {
        self.scale
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.unscaled == 0
    }

    /// The sign of the value: -1, 0 or 1.
    pub fn signum(&self) -> i32 {
        self.unscaled.signum() as i32
    }

    /// The value as the nearest float (as `AsApproximateFloat64`).
    pub fn as_f64(&self) -> f64 {
        let base = self.unscaled as f64;
        match self.scale {
            0 => base,
            s if s < 0 => base * 10f64.powi(-s),
            s => base * (1.0 / 10f64.powi(s)),
        }
    }

    /// The value rounded up to an integer (as `Quantity.Value`), `None` if it does not fit in `i64`.
    pub fn value(&self) -> Option<i64> {
        self.scaled_ceil(0)
    }

    /// The value in thousandths rounded up (as `Quantity.MilliValue`), `None` if it does not fit in `i64`.
    pub fn milli_value(&self) -> Option<i64> {
        self.scaled_ceil(3)
    }

    fn scaled_ceil(&self, to: i32) -> Option<i64> {
        let v = if self.scale <= to {
            upscale(self.unscaled, self.scale, to)?
        } else {
            let div = pow10(u32::try_from(self.scale - to).ok()?)?;
            let q = self.unscaled / div;
            if self.unscaled % div > 0 { q + 1 } else { q }
        };
        i64::try_from(v).ok()
    }

    /// `self + other` (as `Quantity.Add`): a zero receiver takes the other's format.
    pub fn add(&self, other: &Quantity) -> Option<Quantity> {
        let format = if self.is_zero() { other.format } else { self.format };
        let (unscaled, scale) = if other.is_zero() {
            (self.unscaled, self.scale)
        } else if self.is_zero() {
            (other.unscaled, other.scale)
        } else {
            let scale = self.scale.max(other.scale);
            let a = upscale(self.unscaled, self.scale, scale)?;
            let b = upscale(other.unscaled, other.scale, scale)?;
            (a.checked_add(b)?, scale)
        };
        Some(Quantity { unscaled, scale, format, cached: None })
    }

    /// `self - other` (as `Quantity.Sub`): a zero receiver takes the other's format.
    pub fn sub(&self, other: &Quantity) -> Option<Quantity> {
        let negated = Quantity { unscaled: other.unscaled.checked_neg()?, ..other.clone() };
        self.add(&negated)
    }

    /// Exact product, in this quantity's format, unrounded (as `inf.Dec.Mul` + `NewDecimalQuantity`).
    pub fn mul(&self, other: &Quantity) -> Option<Quantity> {
        let unscaled = self.unscaled.checked_mul(other.unscaled)?;
        let scale = self.scale.checked_add(other.scale)?;
        Some(Quantity { unscaled, scale, format: self.format, cached: None })
    }

    /// Quotient truncated toward zero at the larger of both scales (Kyverno's `divide` by a number);
    /// `None` when dividing by zero or on overflow.
    pub fn quo_trunc(&self, divisor: &Quantity) -> Option<Quantity> {
        if divisor.is_zero() {
            return None;
        }
        let scale = self.scale.max(divisor.scale);
        // result = a / b × 10^(scale + sb - sa)
        let shift = scale + divisor.scale - self.scale;
        let unscaled = if shift >= 0 {
            upscale(self.unscaled, 0, shift)?.checked_div(divisor.unscaled)?
        } else {
            self.unscaled.checked_div(upscale(divisor.unscaled, 0, -shift)?)?
        };
        Some(Quantity { unscaled, scale, format: self.format, cached: None })
    }

    /// Canonical digits and power-of-ten exponent (a multiple of 3), as `AsCanonicalBytes`.
    fn canonical_decimal(&self) -> (i128, i32) {
        let mut amount = self.unscaled;
        let mut exponent = -self.scale;
        while amount != 0 && amount % 10 == 0 {
            amount /= 10;
            exponent += 1;
        }
        while exponent % 3 != 0 {
            match amount.checked_mul(10) {
                Some(a) => amount = a,
                None => break,
            }
            exponent -= 1;
        }
        (amount, exponent)
    }

    /// The exact integer value if the quantity is an integer.
    fn exact_integer(&self) -> Option<i128> {
        if self.scale <= 0 {
            return upscale(self.unscaled, self.scale, 0);
        }
        let div = pow10(u32::try_from(self.scale).ok()?)?;
        (self.unscaled % div == 0).then_some(self.unscaled / div)
    }
}

/// Splits a quantity string into sign, integer digits, fraction digits and suffix
/// (as `parseQuantityString`).
fn split_quantity(text: &str) -> Option<(bool, &str, &str, &str)> {
    let b = text.as_bytes();
    let end = b.len();
    let mut pos = 0;
    let mut positive = true;
    match b[0] {
        b'-' => {
            positive = false;
            pos = 1;
        }
        b'+' => pos = 1,
        _ => {}
    }
    while pos < end && b[pos] == b'0' {
        pos += 1;
    }
    if pos >= end {
        return Some((positive, "0", "", ""));
    }
    let start = pos;
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    let num = if pos == start { "0" } else { &text[start..pos] };
    let mut denom = "";
    if pos < end && b[pos] == b'.' {
        pos += 1;
        let d = pos;
        while pos < end && b[pos].is_ascii_digit() {
            pos += 1;
        }
        denom = &text[d..pos];
    }
    let suffix_start = pos;
    while pos < end && b"eEinumkKMGTP".contains(&b[pos]) {
        pos += 1;
    }
    if pos < end && (b[pos] == b'-' || b[pos] == b'+') {
        pos += 1;
    }
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    (pos == end).then_some((positive, num, denom, &text[suffix_start..]))
}

/// Maps a suffix to (is base 2, exponent, format), as `suffixHandler.interpret`.
fn interpret_suffix(suffix: &str) -> Option<(bool, i32, QuantityFormat)> {
    if let Some((_, e)) = DEC_SUFFIXES.iter().find(|(s, _)| *s == suffix) {
        return Some((false, *e, QuantityFormat::DecimalSI));
    }
    if let Some((_, e)) = BIN_SUFFIXES.iter().find(|(s, _)| *s == suffix) {
        return Some((true, *e as i32, QuantityFormat::BinarySI));
    }
    let rest = suffix.strip_prefix(['e', 'E']).filter(|r| !r.is_empty())?;
    let exp: i64 = rest.parse().ok()?;
    if exp.abs() > MAX_EXPONENT {
        return None;
    }
    Some((false, exp as i32, QuantityFormat::DecimalExponent))
}

/// The `int64Amount` fast path of `ParseQuantity`, including when the input string is kept verbatim.
fn fast_path(
    text: &str,
    positive: bool,
    num: &str,
    denom: &str,
    base2: bool,
    exponent: i32,
    format: QuantityFormat,
) -> Option<Quantity> {
    let digits = (num.len() + denom.len()) as i32;
    let (mut scale, mantissa, precision) = if !base2 {
        (exponent, 1i64, 18 - digits)
    } else if denom.is_empty() {
        let p = 15 - num.len() as i32 - (exponent as f32 * 3.0 / 10.0) as i32 - 1;
        (0, 1i64 << exponent, p)
    } else {
        (0, 1, -1)
    };
    if precision < 0 {
        return None;
    }
    scale -= denom.len() as i32;
    if scale < -9 {
        return None;
    }
    // The digits without the decimal point (copied only when there is a fraction).
    let joined;
    let shifted: &str = if denom.is_empty() {
        num
    } else {
        joined = [num, denom].concat();
        &joined
    };
    let value: i64 = shifted.parse().ok()?;
    let mut result = value.checked_mul(mantissa)?;
    if !positive {
        result = -result;
    }
    let keep = if base2 {
        exponent % 10 == 0 && value & 0x07 != 0
    } else {
        scale % 3 == 0 && !shifted.ends_with("000") && !shifted.starts_with('0')
    };
    let cached = keep.then(|| Box::from(text));
    Some(Quantity { unscaled: i128::from(result), scale: -scale, format, cached })
}

/// Rounds a non-negative decimal up to nine fractional digits (`inf.RoundUp` to `Nano`).
fn round_up_to_nano(unscaled: i128, scale: i32) -> Option<(i128, i32)> {
    if scale > 9 {
        let div = pow10(u32::try_from(scale - 9).ok()?)?;
        let q = unscaled / div;
        Some((if unscaled % div != 0 { q + 1 } else { q }, 9))
    } else {
        // Upscaling keeps the value; if it overflows, keep the shorter representation.
        Some(upscale(unscaled, scale, 9).map_or((unscaled, scale), |u| (u, 9)))
    }
}

/// Compares `a × 10^-sa` with `b × 10^-sb` exactly (falls back to floats only beyond `i128`).
fn cmp_parts(a: i128, sa: i32, b: i128, sb: i32) -> Ordering {
    let scale = sa.max(sb);
    match (upscale(a, sa, scale), upscale(b, sb, scale)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => {
            let x = a as f64 * 10f64.powi(-sa);
            let y = b as f64 * 10f64.powi(-sb);
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    /// Compares values exactly (as `Quantity.Cmp`), ignoring format.
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_parts(self.unscaled, self.scale, other.unscaled, other.scale)
    }
}

impl fmt::Display for Quantity {
    /// Prints as `resource.Quantity.String()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        if let Some(text) = &self.cached {
            return f.write_str(text);
        }
        let mut format = self.format;
        let mut integer = None;
        if format == QuantityFormat::BinarySI {
            integer = self.exact_integer().filter(|v| !(-1024 < *v && *v < 1024));
            if integer.is_none() {
                format = QuantityFormat::DecimalSI;
            }
        }
        if let Some(mut amount) = integer {
            let mut times = 0u32;
            while amount.abs() >= 1024 && amount % 1024 == 0 {
                amount /= 1024;
                times += 1;
            }
            let suffix = match times {
                0 => "",
                t => BIN_SUFFIXES.iter().find(|(_, e)| *e == t * 10).map_or("", |(s, _)| s),
            };
            return write!(f, "{amount}{suffix}");
        }
        let (amount, exponent) = self.canonical_decimal();
        match format {
            QuantityFormat::DecimalExponent if exponent != 0 => write!(f, "{amount}e{exponent}"),
            QuantityFormat::DecimalExponent => write!(f, "{amount}"),
            _ => {
                let suffix = DEC_SUFFIXES.iter().find(|(_, e)| *e == exponent).map_or("", |(s, _)| s);
                write!(f, "{amount}{suffix}")
            }
        }
    }
}

/// Nanoseconds per Go duration unit.
fn duration_unit(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// Parses a Go duration (`time.ParseDuration`: `1h30m`, `300ms`, `1.5h`, `-2s`) into nanoseconds.
pub fn parse_duration(text: &str) -> Option<i64> {
    const LIMIT: u64 = 1 << 63;
    let mut s = text;
    let mut neg = false;
    if let Some(rest) = s.strip_prefix(['-', '+']) {
        neg = s.starts_with('-');
        s = rest;
    }
    if s == "0" {
        return Some(0);
    }
    if s.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        let b = s.as_bytes();
        if !(b[0] == b'.' || b[0].is_ascii_digit()) {
            return None;
        }
        let int_len = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let mut v: u64 = 0;
        for c in &b[..int_len] {
            if v > LIMIT / 10 {
                return None;
            }
            v = v * 10 + u64::from(c - b'0');
            if v > LIMIT {
                return None;
            }
        }
        s = &s[int_len..];
        let (mut frac, mut scale, mut post) = (0u64, 1f64, false);
        if let Some(rest) = s.strip_prefix('.') {
            let frac_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            post = frac_len > 0;
            let mut overflow = false;
            for c in rest[..frac_len].bytes() {
                if overflow || frac > (LIMIT - 1) / 10 {
                    overflow = true;
                    continue;
                }
                let y = frac * 10 + u64::from(c - b'0');
                if y > LIMIT {
                    overflow = true;
                    continue;
                }
                frac = y;
                scale *= 10.0;
            }
            s = &rest[frac_len..];
        }
        if int_len == 0 && !post {
            return None;
        }
        let unit_len = s.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(s.len());
        if unit_len == 0 {
            return None;
        }
        let unit = duration_unit(&s[..unit_len])?;
        s = &s[unit_len..];
        if v > LIMIT / unit {
            return None;
        }
        v *= unit;
        if frac > 0 {
            v += (frac as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return None;
            }
        }
        total += v;
        if total > LIMIT {
            return None;
        }
    }
    if neg {
        return Some((total as i64).wrapping_neg());
    }
    i64::try_from(total).ok()
}

/// Prints nanoseconds as Go's `Duration.String()` does: `1h30m0s`, `1.5s`, `300ms`, `0s`.
pub fn format_duration(nanos: i64) -> String {
    let neg = nanos < 0;
    let u = nanos.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        let (prec, unit) = match u {
            0 => return "0s".to_string(),
            1..1_000 => (0, "ns"),
            1_000..1_000_000 => (3, "µs"),
            _ => (6, "ms"),
        };
        let (int, frac) = split_frac(u, prec);
        out.push_str(&format!("{int}{frac}{unit}"));
    } else {
        let (secs, frac) = split_frac(u, 9);
        let (mins, s) = (secs / 60, secs % 60);
        if mins > 0 {
            let (hours, m) = (mins / 60, mins % 60);
            if hours > 0 {
                out.push_str(&format!("{hours}h"));
            }
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&format!("{s}{frac}s"));
    }
    if neg { format!("-{out}") } else { out }
}

/// Splits `v / 10^prec` into its integer part and a `.123` fraction without trailing zeros.
fn split_frac(v: u64, prec: u32) -> (u64, String) {
    let div = 10u64.pow(prec);
    let frac = v % div;
    if frac == 0 {
        return (v / div, String::new());
    }
    let digits = format!("{frac:0width$}", width = prec as usize);
    (v / div, format!(".{}", digits.trim_end_matches('0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_and_print_like_kubernetes() {
        let cases = [
            ("0", "0"),
            ("00", "0"),
            ("1", "1"),
            ("+1", "+1"),
            ("1000", "1k"),
            ("1500", "1500"),
            ("1.5", "1500m"),
            ("0.5", "500m"),
            (".5", "500m"),
            ("100m", "100m"),
            ("0.0001", "100u"),
            ("1n", "1n"),
            ("0.1n", "1n"),
            ("1.5n", "2n"),
            ("-1.5", "-1500m"),
            ("10G", "10G"),
            ("1000M", "1G"),
            ("1Ki", "1Ki"),
            ("8Ki", "8Ki"),
            ("2048Ki", "2Mi"),
            ("1.5Gi", "1536Mi"),
            ("0.5Ki", "512"),
            ("1024", "1024"),
            ("1e3", "1e3"),
            ("1E3", "1E3"),
            ("1000e0", "1e3"),
            ("12e-3", "12e-3"),
            ("1.5e3", "1500"),
            ("9999999999999999999", "9223372036854775807"),
            ("1e30", "1e30"),
        ];
        for (input, want) in cases {
            let q = Quantity::parse(input).unwrap_or_else(|| panic!("{input} should parse"));
            assert_eq!(q.to_string(), want, "input {input}");
        }
    }

    #[test]
    fn invalid_quantities_are_rejected() {
        for input in ["", "abc", "1Ki5", "1 Ki", "1KiB", "1.2.3", "1e", "1x", "--1"] {
            assert!(Quantity::parse(input).is_none(), "{input} should not parse");
        }
    }

    #[test]
    fn quantities_compare_exactly() {
        let q = |s: &str| Quantity::parse(s).unwrap();
        assert_eq!(q("1Ki"), q("1024"));
        assert_eq!(q("1"), q("1000m"));
        assert!(q("1Mi") > q("1M"));
        assert!(q("100m") < q("0.2"));
        assert!(q("-1") < q("0"));
        assert_eq!(q("1e3").cmp(&q("1k")), Ordering::Equal);
        assert_eq!(q("1.5").value(), Some(2));
        assert_eq!(q("1.5").milli_value(), Some(1500));
        assert_eq!(q("250m").as_f64(), 0.25);
    }

    #[test]
    fn quantity_arithmetic() {
        let q = |s: &str| Quantity::parse(s).unwrap();
        let sum = |a: &str, b: &str| q(a).add(&q(b)).unwrap().to_string();
        assert_eq!(sum("1Ki", "1Ki"), "2Ki");
        assert_eq!(sum("1", "500m"), "1500m");
        assert_eq!(sum("0", "1Gi"), "1Gi");
        assert_eq!(q("10Gi").sub(&q("2Gi")).unwrap().to_string(), "8Gi");
        assert_eq!(q("1").sub(&q("2")).unwrap().to_string(), "-1");
        let f = |v: f64| Quantity::from_go_float(v).unwrap();
        assert_eq!(q("10Mi").mul(&f(2.0)).unwrap().to_string(), "20Mi");
        assert_eq!(q("1m").mul(&f(0.5)).unwrap().to_string(), "500u");
        assert_eq!(q("10").quo_trunc(&f(3.0)).unwrap().to_string(), "3");
        assert_eq!(q("10.0").quo_trunc(&f(3.0)).unwrap().to_string(), "3300m");
        assert_eq!(q("1k").quo_trunc(&f(100.0)).unwrap().to_string(), "10");
        assert!(q("1").quo_trunc(&f(0.0)).is_none());
        assert_eq!(f(1e6).scale(), -6);
        assert_eq!(f(100.0).scale(), 0);
        assert_eq!(f(0.0001).scale(), 4);
        assert_eq!(f(1e-5).scale(), 5);
        assert_eq!(f(-2.5).to_string(), "-2500m");
    }

    #[test]
    fn durations_parse_like_go() {
        let s = 1_000_000_000i64;
        let cases = [
            ("0", Some(0)),
            ("1h30m", Some(5400 * s)),
            ("300ms", Some(300_000_000)),
            ("1.5h", Some(5400 * s)),
            ("-2s", Some(-2 * s)),
            ("+5m", Some(300 * s)),
            ("1.5us", Some(1500)),
            ("1µs", Some(1000)),
            ("1μs", Some(1000)),
            ("10ns", Some(10)),
            (".5s", Some(s / 2)),
            ("1h2m3.5s", Some(3723 * s + s / 2)),
            ("2562047h47m16.854775807s", Some(i64::MAX)),
            ("-2562047h47m16.854775808s", Some(i64::MIN)),
            ("2562047h47m16.854775808s", None),
            ("", None),
            ("1", None),
            ("1d", None),
            (".s", None),
            ("-", None),
            ("1h 2m", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_duration(input), want, "input {input:?}");
        }
    }

    #[test]
    fn durations_print_like_go() {
        let s = 1_000_000_000i64;
        let cases = [
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1µs"),
            (2_200_000, "2.2ms"),
            (s, "1s"),
            (s + s / 2, "1.5s"),
            (5400 * s, "1h30m0s"),
            (-2 * s, "-2s"),
            (61 * s, "1m1s"),
            (i64::MAX, "2562047h47m16.854775807s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ];
        for (nanos, want) in cases {
            assert_eq!(format_duration(nanos), want, "nanos {nanos}");
        }
    }
}
