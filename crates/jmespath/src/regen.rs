//! Random strings matching a regular expression (Kyverno's `random`, after goregen).

use std::hash::{BuildHasher, Hasher, RandomState};

use regex_syntax::hir::{Class, Hir, HirKind};

/// Upper bound for unbounded repetitions (`*`, `+`, `{n,}`), as goregen's default.
const MAX_UNBOUNDED_REPEAT: u32 = 10;
/// Longest pattern accepted.
const MAX_PATTERN_LEN: usize = 4096;

/// A small non-cryptographic random source seeded from the process's random hasher keys.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(0x9e37_79b9_7f4a_7c15);
        Rng(h.finish() | 1)
    }

    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

/// Generates a random string matching `pattern`.
pub fn generate(pattern: &str) -> Result<String, String> {
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(format!("pattern longer than {MAX_PATTERN_LEN} bytes"));
    }
    let hir = regex_syntax::ParserBuilder::new().nest_limit(64).build().parse(pattern).map_err(|e| e.to_string())?;
    let mut out = String::new();
    emit(&hir, &mut Rng::new(), &mut out)?;
    Ok(out)
}

fn emit(hir: &Hir, rng: &mut Rng, out: &mut String) -> Result<(), String> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(lit) => out.push_str(&String::from_utf8_lossy(&lit.0)),
        HirKind::Class(Class::Unicode(class)) => {
            let total: u64 = class.ranges().iter().map(|r| u64::from(r.end()) - u64::from(r.start()) + 1).sum();
            let mut pick = rng.below(total);
            for r in class.ranges() {
                let size = u64::from(r.end()) - u64::from(r.start()) + 1;
                if pick < size {
                    let c = char::from_u32(u32::from(r.start()) + pick as u32).unwrap_or(r.start());
                    out.push(c);
                    break;
                }
                pick -= size;
            }
        }
        HirKind::Class(Class::Bytes(class)) => {
            let total: u64 = class.ranges().iter().map(|r| u64::from(r.end()) - u64::from(r.start()) + 1).sum();
            let mut pick = rng.below(total);
            for r in class.ranges() {
                let size = u64::from(r.end()) - u64::from(r.start()) + 1;
                if pick < size {
                    out.push(char::from(r.start() + pick as u8));
                    break;
                }
                pick -= size;
            }
        }
        HirKind::Repetition(rep) => {
            let max = rep.max.unwrap_or(rep.min.saturating_add(MAX_UNBOUNDED_REPEAT)).max(rep.min);
            if max > 10_000 {
                return Err("repetition count too large".to_string());
            }
            let count = rep.min + rng.below(u64::from(max - rep.min) + 1) as u32;
            for _ in 0..count {
                emit(&rep.sub, rng, out)?;
            }
        }
        HirKind::Capture(cap) => emit(&cap.sub, rng, out)?,
        HirKind::Concat(items) => {
            for item in items {
                emit(item, rng, out)?;
            }
        }
        HirKind::Alternation(items) => {
            let i = rng.below(items.len() as u64) as usize;
            if let Some(item) = items.get(i) {
                emit(item, rng, out)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_strings_match_their_pattern() {
        for pattern in ["[a-z]{5}", "(foo|bar)-[0-9]+", "[A-Z0-9]{3,8}x?", "abc"] {
            let re = regex::Regex::new(&format!("^(?:{pattern})$")).unwrap();
            for _ in 0..20 {
                let s = generate(pattern).unwrap();
                assert!(re.is_match(&s), "{s:?} does not match {pattern}");
            }
        }
        assert!(generate("(").is_err());
    }
}
