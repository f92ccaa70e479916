//! A careful source pre-pass over template Rego, working around known regorus gaps without
//! changing what the policy means. It never edits text inside strings or comments.
//!
//! Rewrites:
//! * `data.inventory` becomes `input.inventory`: Gatekeeper also rewrites the reference (its hook
//!   evaluates `with data.inventory as ...`); reading it from the input keeps the prepared engine
//!   valid instead of re-preparing it whenever the inventory changes.
//! * v0 rules with several bodies (`p { a } { b }`, ORed) are split into separate rules with the
//!   same head; regorus rejects them ("else cannot be used with set rules").
//! * A body line starting with `(` after a complete expression is a new expression in OPA (a
//!   newline ends the expression); regorus parses it as a call. A `;` is inserted first.
//! * `not f(..., a.b, ...)` where a clause of the user function `f` has `_` at that position:
//!   OPA unifies the unevaluated reference with `_`, so the clause applies even when `a.b` is
//!   undefined; regorus makes the whole call undefined. The argument becomes
//!   `object.get(a, ["b"], null)`, which the `_` clause accepts and the other clauses treat
//!   like an undefined value.
//! * `sprintf` calls whose literal format has more verbs than the literal argument array has
//!   elements get the missing verbs escaped to Go's `%!v(MISSING)` output; regorus raises an error.
//! * A function defined by its head alone (`f("a", _)`, which OPA reads as `f("a", _) = true`)
//!   gets the `= true` written out: regorus' bytecode compiler emits no clause for it, so the
//!   function would never match.

/// Applies every rewrite; `v0` enables the v0-only ones.
pub fn rewrite(src: &str, v0: bool) -> String {
    let mut out = rewrite_inventory(src);
    if v0 {
        out = split_multi_body_rules(&out);
    }
    out = separate_paren_lines(&out);
    out = guard_wildcard_arguments(&out);
    out = complete_bodiless_functions(&out, v0);
    fix_sprintf_arity(&out)
}

/// Writes out the `true` value of functions defined by their head alone (see module doc).
fn complete_bodiless_functions(src: &str, v0: bool) -> String {
    let mask = code_mask(src);
    let bytes = src.as_bytes();
    let mut inserts = Vec::new();
    let mut depth = 0usize;
    for i in 0..bytes.len() {
        if !mask[i] {
            continue;
        }
        if depth == 0 && starts_new_line(src, i) && ends_statement(bytes, &mask, i) {
            let name_len = bytes[i..].iter().take_while(|&&b| is_ident(b) || b == b'.').count();
            let named = name_len > 0 && !bytes[i].is_ascii_digit();
            if named
                && bytes.get(i + name_len) == Some(&b'(')
                && let Some(close) = closing_paren(bytes, &mask, i + name_len)
                && head_alone(bytes, &mask, close)
            {
                inserts.push((close + 1, if v0 { " = true" } else { " := true" }.to_string()));
            }
        }
        match bytes[i] {
            b'{' | b'[' | b'(' => depth += 1,
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    apply_inserts(src, inserts)
}

/// The `)` closing the `(` at `open`, on the same line.
fn closing_paren(bytes: &[u8], mask: &[bool], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for j in open..bytes.len() {
        if !mask[j] {
            continue;
        }
        match bytes[j] {
            b'\n' => return None,
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    return (bytes[j] == b')').then_some(j);
                }
            }
            _ => {}
        }
    }
    None
}

/// Whether nothing but a comment follows the head closing at `close` on its line, and the next
/// line does not continue it (with a body, a value or `if`/`else`).
fn head_alone(bytes: &[u8], mask: &[bool], close: usize) -> bool {
    let line_end = (close + 1..bytes.len()).find(|&j| bytes[j] == b'\n').unwrap_or(bytes.len());
    if (close + 1..line_end).any(|j| mask[j] && !bytes[j].is_ascii_whitespace()) {
        return false;
    }
    next_code_byte(bytes, mask, line_end).is_none_or(|j| {
        let rest = &bytes[j..];
        !(matches!(rest[0], b'{' | b'=' | b':') || rest.starts_with(b"if") || rest.starts_with(b"else"))
    })
}

/// Positions of `_` parameters in any clause of each user function (`f(a, _) ...` at line start).
fn wildcard_params(src: &str) -> std::collections::HashMap<String, Vec<usize>> {
    let mut out: std::collections::HashMap<String, Vec<usize>> = std::collections::HashMap::new();
    for line in src.lines() {
        let Some(open) = line.find('(') else { continue };
        let name = &line[..open];
        if name.is_empty() || !name.bytes().all(is_ident) || name.as_bytes()[0].is_ascii_digit() {
            continue;
        }
        let Some(close) = line[open..].find(')') else { continue };
        for (i, arg) in line[open + 1..open + close].split(',').enumerate() {
            if arg.trim() == "_" {
                out.entry(name.to_string()).or_default().push(i);
            }
        }
    }
    out
}

/// Rewrites dotted-reference arguments of negated calls at wildcard positions (see module doc).
fn guard_wildcard_arguments(src: &str) -> String {
    let wild = wildcard_params(src);
    if wild.is_empty() {
        return src.to_string();
    }
    let mask = code_mask(src);
    let mut replacements = Vec::new();
    for (pos, _) in src.match_indices("not ") {
        if !mask[pos] || (pos > 0 && is_ident(src.as_bytes()[pos - 1])) {
            continue;
        }
        let rest = &src[pos + 4..];
        let call = rest.trim_start();
        let call_start = pos + 4 + (rest.len() - call.len());
        let Some(open) = call.find('(') else { continue };
        let Some(positions) = wild.get(&call[..open]) else { continue };
        let Some(close) = call[open..].find(')') else { continue };
        let args_text = &call[open + 1..open + close];
        if args_text.contains(['(', '[', '{', '"', '\n']) {
            continue;
        }
        let args: Vec<String> = args_text
            .split(',')
            .enumerate()
            .map(|(i, a)| {
                let a = a.trim();
                let parts: Vec<&str> = a.split('.').collect();
                let is_ref = parts.len() > 1 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(is_ident));
                if positions.contains(&i) && is_ref {
                    let path: Vec<String> = parts[1..].iter().map(|p| format!("\"{p}\"")).collect();
                    format!("object.get({}, [{}], null)", parts[0], path.join(", "))
                } else {
                    a.to_string()
                }
            })
            .collect();
        let start = call_start + open + 1;
        replacements.push((start, start + args_text.len(), args.join(", ")));
    }
    let mut out = src.to_string();
    for (s, e, text) in replacements.into_iter().rev() {
        out.replace_range(s..e, &text);
    }
    out
}

/// Marks which bytes are code (not inside a string, raw string or comment).
fn code_mask(src: &str) -> Vec<bool> {
    let bytes = src.as_bytes();
    let mut mask = vec![true; bytes.len()];
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    mask[i] = false;
                    i += 1;
                }
            }
            b'"' => {
                mask[i] = false;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    mask[i] = false;
                    if bytes[i] == b'\\' && i + 1 < bytes.len() {
                        mask[i + 1] = false;
                        i += 1;
                    }
                    i += 1;
                }
                if i < bytes.len() {
                    mask[i] = false;
                    i += 1;
                }
            }
            b'`' => {
                mask[i] = false;
                i += 1;
                while i < bytes.len() && bytes[i] != b'`' {
                    mask[i] = false;
                    i += 1;
                }
                if i < bytes.len() {
                    mask[i] = false;
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    mask
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn rewrite_inventory(src: &str) -> String {
    const FROM: &str = "data.inventory";
    let mask = code_mask(src);
    let bytes = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut last = 0;
    for (pos, _) in src.match_indices(FROM) {
        let end = pos + FROM.len();
        let before_ok = pos == 0 || !(is_ident(bytes[pos - 1]) || bytes[pos - 1] == b'.');
        let after_ok = end >= bytes.len() || !is_ident(bytes[end]);
        if mask[pos] && before_ok && after_ok {
            out.push_str(&src[last..pos]);
            out.push_str("input.inventory");
            last = end;
        }
    }
    out.push_str(&src[last..]);
    out
}

/// Splits `head { a } { b }` into `head { a }\nhead { b }` (v0 only).
fn split_multi_body_rules(src: &str) -> String {
    let mask = code_mask(src);
    let bytes = src.as_bytes();
    let mut inserts: Vec<(usize, String)> = Vec::new();
    let mut depth = 0usize;
    let mut in_body = false;
    let mut stmt_start: Option<usize> = None;
    let mut head: Option<String> = None;
    let mut after_body: Option<usize> = None;
    let mut in_else = false;
    for i in 0..bytes.len() {
        if !mask[i] {
            continue;
        }
        let b = bytes[i];
        if depth == 0 {
            if b.is_ascii_whitespace() {
                continue;
            }
            if b == b'{' && opens_body(bytes, &mask, i) {
                match (after_body, &head) {
                    (Some(close), Some(h)) if !in_else && src[close..i].trim().is_empty() => {
                        inserts.push((i, format!("\n{h} ")));
                    }
                    _ if in_else => {}
                    _ => head = Some(src[stmt_start.unwrap_or(i)..i].trim_end().to_string()),
                }
                in_else = false;
                in_body = true;
                after_body = None;
                depth = 1;
                continue;
            }
            if after_body.is_some() && !in_else {
                if starts_else(src, i) {
                    in_else = true;
                } else {
                    after_body = None;
                    head = None;
                    stmt_start = Some(i);
                }
            } else if stmt_start.is_none()
                || (!in_body
                    && after_body.is_none()
                    && !in_else
                    && starts_new_line(src, i)
                    && ends_statement(bytes, &mask, i))
            {
                stmt_start = Some(i);
            }
        }
        match b {
            b'{' | b'[' | b'(' => depth += 1,
            b'}' | b']' | b')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 && b == b'}' && in_body {
                    in_body = false;
                    after_body = Some(i + 1);
                    stmt_start = None;
                }
            }
            _ => {}
        }
    }
    apply_inserts(src, inserts)
}

/// Whether only whitespace precedes `i` on its line.
fn starts_new_line(src: &str, i: usize) -> bool {
    src[..i].rsplit('\n').next().is_some_and(|l| l.trim().is_empty())
}

/// Whether the code before `i` ends a statement (it does not end with an operator or comma).
fn ends_statement(bytes: &[u8], mask: &[bool], i: usize) -> bool {
    prev_code_byte(bytes, mask, i)
        .is_none_or(|j| !matches!(bytes[j], b'=' | b',' | b'+' | b'-' | b'*' | b'/' | b'|' | b'&' | b':'))
}

fn starts_else(src: &str, i: usize) -> bool {
    src[i..].starts_with("else") && !src.as_bytes().get(i + 4).copied().is_some_and(is_ident)
}

fn next_code_byte(bytes: &[u8], mask: &[bool], from: usize) -> Option<usize> {
    (from..bytes.len()).find(|&j| mask[j] && !bytes[j].is_ascii_whitespace())
}

fn prev_code_byte(bytes: &[u8], mask: &[bool], before: usize) -> Option<usize> {
    (0..before).rev().find(|&j| mask[j] && !bytes[j].is_ascii_whitespace())
}

/// Whether the `{` at `i` (depth 0) opens a rule body rather than an object or set value.
fn opens_body(bytes: &[u8], mask: &[bool], i: usize) -> bool {
    match prev_code_byte(bytes, mask, i) {
        None => false,
        Some(j) => !matches!(bytes[j], b'=' | b',' | b'(' | b'[' | b':' | b'{'),
    }
}

fn apply_inserts(src: &str, mut inserts: Vec<(usize, String)>) -> String {
    if inserts.is_empty() {
        return src.to_string();
    }
    inserts.sort_by_key(|(pos, _)| *pos);
    let mut out = String::with_capacity(src.len() + inserts.iter().map(|(_, s)| s.len()).sum::<usize>());
    let mut last = 0;
    for (pos, text) in inserts {
        out.push_str(&src[last..pos]);
        out.push_str(&text);
        last = pos;
    }
    out.push_str(&src[last..]);
    out
}

/// Inserts `;` before a line that starts with `(` when it follows a complete expression inside a
/// rule body (brace depth ≥ 1, no open parenthesis or bracket).
fn separate_paren_lines(src: &str) -> String {
    let mask = code_mask(src);
    let bytes = src.as_bytes();
    let mut stack: Vec<u8> = Vec::new();
    let mut inserts = Vec::new();
    for i in 0..bytes.len() {
        if !mask[i] {
            continue;
        }
        match bytes[i] {
            b'{' | b'[' | b'(' => stack.push(bytes[i]),
            b'}' | b']' | b')' => {
                stack.pop();
            }
            b'\n' if stack.last() == Some(&b'{') => {
                let Some(next) = next_code_byte(bytes, &mask, i + 1) else { continue };
                if bytes[next] != b'(' || src[i + 1..next].contains('\n') && !src[i + 1..next].trim().is_empty() {
                    continue;
                }
                if let Some(prev) = prev_code_byte(bytes, &mask, i) {
                    let p = bytes[prev];
                    if is_ident(p) || matches!(p, b')' | b']' | b'}' | b'"' | b'`') {
                        inserts.push((prev + 1, ";".to_string()));
                    }
                }
            }
            _ => {}
        }
    }
    apply_inserts(src, inserts)
}

/// Counts Go format verbs in a format string (`%%` is a literal percent).
fn verb_positions(fmt: &str) -> Vec<(usize, usize)> {
    let b = fmt.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if b.get(i + 1) == Some(&b'%') {
                i += 2;
                continue;
            }
            let start = i;
            i += 1;
            while i < b.len() && (b[i].is_ascii_digit() || matches!(b[i], b'.' | b'+' | b'-' | b'#' | b' ')) {
                i += 1;
            }
            if i < b.len() {
                out.push((start, i + 1));
            }
        }
        i += 1;
    }
    out
}

/// Escapes verbs beyond the literal argument count in `sprintf("...", [a, b])` calls.
fn fix_sprintf_arity(src: &str) -> String {
    let mask = code_mask(src);
    let bytes = src.as_bytes();
    let mut replacements: Vec<(usize, usize, String)> = Vec::new();
    for (pos, _) in src.match_indices("sprintf(") {
        if !mask[pos] || (pos > 0 && (is_ident(bytes[pos - 1]) || bytes[pos - 1] == b'.')) {
            continue;
        }
        let Some(q) = (pos + 8..bytes.len()).find(|&j| !bytes[j].is_ascii_whitespace()) else { continue };
        if bytes[q] != b'"' {
            continue;
        }
        let Some(q_end) = (q + 1..bytes.len()).find(|&j| bytes[j] == b'"' && bytes[j - 1] != b'\\') else { continue };
        let Some(comma) = next_code_byte(bytes, &mask, q_end + 1) else { continue };
        let Some(open) = next_code_byte(bytes, &mask, comma + 1) else { continue };
        if bytes[comma] != b',' || bytes[open] != b'[' {
            continue;
        }
        let Some(args) = count_array_elements(bytes, &mask, open) else { continue };
        let fmt = &src[q + 1..q_end];
        let verbs = verb_positions(fmt);
        if verbs.len() <= args {
            continue;
        }
        let mut new_fmt = String::new();
        let mut last = 0;
        for &(s, e) in &verbs[args..] {
            new_fmt.push_str(&fmt[last..s]);
            let verb = &fmt[e - 1..e];
            new_fmt.push_str(&format!("%%!{verb}(MISSING)"));
            last = e;
        }
        new_fmt.push_str(&fmt[last..]);
        replacements.push((q + 1, q_end, new_fmt));
    }
    let mut out = src.to_string();
    for (s, e, text) in replacements.into_iter().rev() {
        out.replace_range(s..e, &text);
    }
    out
}

/// Number of top-level elements of the array literal opening at `open`, if it closes.
fn count_array_elements(bytes: &[u8], mask: &[bool], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut count = 0usize;
    let mut seen_token = false;
    for j in open..bytes.len() {
        if !mask[j] {
            if depth == 1 {
                seen_token = true;
            }
            continue;
        }
        match bytes[j] {
            b'[' | b'(' | b'{' => {
                if depth == 1 {
                    seen_token = true;
                }
                depth += 1;
            }
            b']' | b')' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(count + usize::from(seen_token));
                }
            }
            b',' if depth == 1 => {
                count += 1;
                seen_token = false;
            }
            c if depth == 1 && !c.is_ascii_whitespace() => seen_token = true,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventory_outside_strings_only() {
        let src = "x := data.inventory.cluster # data.inventory\ny := \"data.inventory\"\nz := data.inventoryx";
        let out = rewrite_inventory(src);
        assert_eq!(out, "x := input.inventory.cluster # data.inventory\ny := \"data.inventory\"\nz := data.inventoryx");
    }

    #[test]
    fn multi_body_rules_are_split() {
        let cases = [
            (
                "violation[{\"msg\": m}] {\n  a\n} {\n  b\n}\n",
                "violation[{\"msg\": m}] {\n  a\n} \nviolation[{\"msg\": m}] {\n  b\n}\n",
            ),
            ("p { a }\nq { b }\n", "p { a }\nq { b }\n"),
            ("f(x) = y { y := x } else = 2 { true }\n", "f(x) = y { y := x } else = 2 { true }\n"),
            ("p = {1, 2} { true }\n", "p = {1, 2} { true }\n"),
            (
                "package x\nimport data.lib\np { true } { false }\n",
                "package x\nimport data.lib\np { true } \np { false }\n",
            ),
        ];
        for (src, want) in cases {
            assert_eq!(split_multi_body_rules(src), want, "{src}");
        }
    }

    #[test]
    fn paren_lines_get_separated() {
        let src = "p {\n  input.x\n  (input.a - 1) > 0\n  f(\n    (1)\n  )\n}\n";
        assert_eq!(separate_paren_lines(src), "p {\n  input.x;\n  (input.a - 1) > 0\n  f(\n    (1)\n  )\n}\n");
    }

    #[test]
    fn negated_calls_guard_wildcard_arguments() {
        let src = "f(\"a\", _)\nf(\"b\", r) := r > 1\np { not f(x, params.ranges) }\nq { not g(params.ranges) }\n";
        let want = "f(\"a\", _)\nf(\"b\", r) := r > 1\np { not f(x, object.get(params, [\"ranges\"], null)) }\nq { not g(params.ranges) }\n";
        assert_eq!(guard_wildcard_arguments(src), want);
    }

    #[test]
    fn bodiless_functions_get_their_value() {
        let src = "f(\"a\", _) # any\nf(\"b\", r) := r > 1\ng(x)\n{ true }\nh(x) { x }\np { f(1, 2) }\nq(\"(\")\n";
        let want = "f(\"a\", _) = true # any\nf(\"b\", r) := r > 1\ng(x)\n{ true }\nh(x) { x }\np { f(1, 2) }\nq(\"(\") = true\n";
        assert_eq!(complete_bodiless_functions(src, true), want);
        assert_eq!(complete_bodiless_functions("lib.f(1)\n", false), "lib.f(1) := true\n");
    }

    #[test]
    fn sprintf_missing_arguments() {
        let cases = [
            (r#"m := sprintf("%v and %v", [a])"#, r#"m := sprintf("%v and %%!v(MISSING)", [a])"#),
            (r#"m := sprintf("%v and %d", [a, f(b, c)])"#, r#"m := sprintf("%v and %d", [a, f(b, c)])"#),
            (r#"m := sprintf("100%% %s", [])"#, r#"m := sprintf("100%% %%!s(MISSING)", [])"#),
            (r#"m := sprintf(fmt, [])"#, r#"m := sprintf(fmt, [])"#),
        ];
        for (src, want) in cases {
            assert_eq!(fix_sprintf_arity(src), want);
        }
    }
}
