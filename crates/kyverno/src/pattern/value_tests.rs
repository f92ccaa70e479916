//! Vectors ported from upstream `pkg/engine/pattern/pattern_test.go` and `operator_test.go`.

use super::*;
use serde_json::json;

/// `validateStringPattern(value, condition)`.
fn cond(value: Value, condition: &str) -> bool {
    Condition::parse(condition).matches(&value)
}

/// `validateString(value, operand, op)`.
fn string_op(value: Value, operand: &str, op: Op) -> bool {
    Simple::new(op, operand).matches(&value)
}

/// `Validate(value, pattern)` for scalar patterns.
fn validate(value: Value, pattern: Value) -> bool {
    Scalar::compile(&pattern).expect("scalar pattern").matches(&value)
}

#[test]
fn float_patterns() {
    let cases = [
        (json!(7.9914), json!(7.9914), true),
        (json!(7.9914), json!(7.99141), false),
        (json!(7), json!(7.0), true),
        (json!(7.0), json!(7.0), true),
        (json!(7.0), json!(7), true),
        (json!(7.000001), json!(7), false),
        (json!(8), json!(7), false),
    ];
    for (value, pattern, want) in cases {
        assert_eq!(validate(value.clone(), pattern.clone()), want, "{value} vs {pattern}");
    }
}

#[test]
fn string_conditions_and_ranges() {
    let cases: &[(Value, &str, bool)] = &[
        (json!(4), ">= 3", true),
        (json!(0), "0-2", true),
        (json!(1), "0-2", true),
        (json!(2), "0-2", true),
        (json!(3), "0-2", false),
        (json!(0), "10!-20", true),
        (json!(15), "10!-20", false),
        (json!(25), "10!-20", true),
        (json!(0), "0.00001-2.00001", false),
        (json!(1), "0.00001-2.00001", true),
        (json!(2), "0.00001-2.00001", true),
        (json!(2.0001), "0.00001-2.00001", false),
        (json!(0), "0.00001!-2.00001", true),
        (json!(1), "0.00001!-2.00001", false),
        (json!(2), "0.00001!-2.00001", false),
        (json!(2.0001), "0.00001!-2.00001", true),
        (json!(2), "2-2", true),
        (json!(2), "2!-2", false),
        (json!(2.99999), "2.99998-3", true),
        (json!(2.99997), "2.99998!-3", true),
        (json!(3.00001), "2.99998!-3", true),
        (json!("256Mi"), "128Mi-512Mi", true),
        (json!("1024Mi"), "128Mi-512Mi", false),
        (json!("64Mi"), "128Mi-512Mi", false),
        (json!("256Mi"), "128Mi!-512Mi", false),
        (json!("1024Mi"), "128Mi!-512Mi", true),
        (json!("64Mi"), "128Mi!-512Mi", true),
        (json!(-9), "-10-8", true),
        (json!(9), "-10--8", false),
        (json!(9), "-10!--8", true),
        (json!("9Mi"), "-10Mi!--8Mi", true),
        (json!(-9), "-10!--8", false),
        (json!("-9Mi"), "-10Mi-8Mi", true),
        (json!("9Mi"), "-10Mi!-8Mi", true),
        (json!(0), "-10-+8", true),
        (json!("7Mi"), "-10Mi-+8Mi", true),
        (json!(10), "-10!-+8", true),
        (json!("10Mi"), "-10Mi!-+8Mi", true),
        (json!(0), "+0-+1", true),
        (json!("10Mi"), "+0Mi-+1024Mi", true),
        (json!(10), "+0!-+1", true),
        (json!("1025Mi"), "+0Mi!-+1024Mi", true),
    ];
    for (value, condition, want) in cases {
        assert_eq!(cond(value.clone(), condition), *want, "{value} vs {condition:?}");
    }
}

#[test]
fn operators_on_numbers_quantities_and_durations() {
    let cases: &[(Value, &str, Op, bool)] = &[
        (json!(7.00001), "7.000001", Op::More, true),
        (json!(7.00001), "7", Op::NotEqual, true),
        (json!(7.0), "7", Op::Equal, true),
        (json!(6.000000001), "6", Op::Less, false),
        (json!("1024Gi"), "", Op::Equal, false),
        (json!("gii"), "1024Gi", Op::Equal, false),
        (json!("12s"), "12s", Op::Equal, true),
        (json!("12s"), "15s", Op::NotEqual, true),
        (json!("12s"), "15s", Op::Less, true),
        (json!("12s"), "15s", Op::LessEqual, true),
        (json!("12s"), "12s", Op::LessEqual, true),
        (json!("15s"), "12s", Op::Less, false),
        (json!("15s"), "12s", Op::LessEqual, false),
        (json!("15s"), "12s", Op::More, true),
        (json!("15s"), "12s", Op::MoreEqual, true),
        (json!("12s"), "12s", Op::MoreEqual, true),
        (json!("12s"), "15s", Op::More, false),
        (json!("12s"), "15s", Op::MoreEqual, false),
        (json!("1024Gi"), "1024Gi", Op::Equal, true),
        (json!("1024Mi"), "1Gi", Op::Equal, true),
        (json!("0.2"), "200m", Op::Equal, true),
        (json!("500"), "500", Op::Equal, true),
        (json!("2048"), "1024", Op::Equal, false),
        (json!(1024), "1024", Op::Equal, true),
        (json!("1Gi"), "1000Mi", Op::More, true),
        (json!("1G"), "1Gi", Op::Less, true),
        (json!("500m"), "0.5", Op::MoreEqual, true),
        (json!("1"), "500m", Op::MoreEqual, true),
        (json!("0.5"), ".5", Op::LessEqual, true),
        (json!("0.2"), ".5", Op::LessEqual, true),
        (json!("0.2"), ".5", Op::NotEqual, true),
        (json!("500m"), "0.6", Op::MoreEqual, false),
        // Durations beyond upstream's table: hours, and `nil` converting to "0".
        (json!("90m"), "1h", Op::More, true),
        (json!(null), "1h", Op::Less, true),
        (json!("abc"), "abc", Op::More, false),
    ];
    for (value, operand, op, want) in cases {
        assert_eq!(string_op(value.clone(), operand, *op), *want, "{value} {op:?} {operand:?}");
    }
}

#[test]
fn scalar_validate_table() {
    let cases = [
        (json!(true), json!(true), true),
        (json!(true), json!(false), false),
        (json!(false), json!(true), false),
        (json!(false), json!(false), true),
        (json!("value"), json!(null), false),
        (json!(""), json!(null), true),
        (json!(0.0), json!(null), true),
        (json!(0), json!(null), true),
        (json!(false), json!(null), true),
        (json!(null), json!(null), true),
        (json!({}), json!(null), false),
        (json!([]), json!(null), false),
        (json!(1.0), json!(null), false),
        (json!(1), json!(null), false),
        (json!("abc"), json!(null), false),
        (json!(true), json!(null), false),
        (json!("10.100.11.54"), json!("192.168.88.1 | 10.100.11.*"), true),
        (json!("10"), json!(">1 & <20"), true),
        (json!("10"), json!(">1 & <20 | >31 & <33"), true),
        (json!("32"), json!(">1 & <20 | >31 & <33"), true),
        (json!("21"), json!(">1 & <20 | >31 & <33"), false),
        (json!(7.0), json!(7.000), true),
        (json!(10), json!(10), true),
        (json!(8), json!(10), false),
        (json!(null), json!(false), false),
        (json!(8.0), json!(8), true),
        (json!(8.1), json!(8), false),
        (json!("8"), json!(8), true),
        (json!("8.1"), json!(8), false),
        (json!(false), json!(8), false),
        (json!(8), json!(8.0), true),
        (json!(8), json!(8.1), false),
        (json!("8"), json!(8.0), true),
        (json!("8.1"), json!(8.1), true),
        (json!("abc"), json!(8.1), false),
        (json!(false), json!(8.0), false),
        // Kyverno compares a string pattern with the printed form of booleans and numbers.
        (json!(false), json!("false"), true),
        (json!(true), json!("false"), false),
        (json!(1.0), json!("1E+*"), true),
        (json!(1), json!("1"), true),
        // `validateStringPatterns` vectors.
        (json!("5.16.5-arch1-1"), json!("!5.10.84-1"), true),
        (json!("5.10.84-1"), json!("5.10.84-1"), true),
        (json!("!5.10.84-1"), json!("!5.10.84-1"), true),
        (json!("5.10.84-1"), json!("!5.10.84-1"), false),
        (json!("5.16.5-arch1-1"), json!("!5.10.84-1 & !5.15.2-1"), true),
        (json!("5.10.84-1"), json!("!5.10.84-1 & !5.15.2-1"), false),
        (json!("5.15.2-1"), json!("!5.10.84-1 & !5.15.2-1"), false),
    ];
    for (value, pattern, want) in cases {
        assert_eq!(validate(value.clone(), pattern.clone()), want, "{value} vs {pattern}");
    }
}

#[test]
fn compare_string_wildcards() {
    let cases: &[(Value, &str, bool)] = &[
        (json!("anything"), "*", true),
        (json!(""), "*", true),
        (json!("leftright"), "*right", true),
        (json!("right"), "*right", true),
        (json!("leftmiddle"), "*right", false),
        (json!("middle"), "*right", false),
        (json!("abbeba"), "ab*ba", true),
        (json!("abbca"), "ab*ba", false),
        (json!("abbba"), "ab?ba", true),
        (json!("abbbba"), "ab?ba", false),
        (json!(null), "ab?ba", false),
        (json!(""), "ab?ba", false),
        (json!(""), "", true),
        (json!(1), "1", true),
        (json!(1.0), "1E+*", true),
        (json!(true), "true", true),
    ];
    for (value, pattern, want) in cases {
        assert_eq!(Simple::new(Op::Equal, pattern).compare_string(value), *want, "{value} vs {pattern:?}");
    }
}

#[test]
fn number_to_string_vectors() {
    let cases = [
        (json!(null), Some("0")),
        (json!("123"), Some("123")),
        (json!(""), Some("")),
        (json!(0.0), Some("0.000000")),
        (json!(3.10), Some("3.100000")),
        (json!(-3.10), Some("-3.100000")),
        (json!(-3), Some("-3")),
        (json!(i64::MIN), Some("-9223372036854775808")),
        (json!(i64::MAX), Some("9223372036854775807")),
        (json!(0), Some("0")),
        (json!(false), None),
    ];
    for (value, want) in cases {
        assert_eq!(number_to_string(&value).as_ref().map(Text::as_str), want, "{value}");
    }
}

#[test]
fn operator_parsing() {
    let op_of = |s: &str| match Condition::parse(s) {
        Condition::Simple(simple) => Some(simple.op),
        _ => None,
    };
    assert_eq!(op_of("f"), Some(Op::Equal));
    assert_eq!(op_of(""), Some(Op::Equal));
    assert_eq!(op_of(">"), Some(Op::Equal));
    assert_eq!(op_of(">=1"), Some(Op::MoreEqual));
    assert_eq!(op_of("<=1"), Some(Op::LessEqual));
    assert_eq!(op_of(">1"), Some(Op::More));
    assert_eq!(op_of("<1"), Some(Op::Less));
    assert_eq!(op_of("!1"), Some(Op::NotEqual));
    assert_eq!(op_of("1-2"), None);
    assert_eq!(op_of("1!-2"), None);
    assert_eq!(op_of("a-b"), Some(Op::Equal));
    assert!(matches!(Condition::parse("1Gi-2Gi"), Condition::InRange(..)));
    assert!(matches!(Condition::parse("1Gi!-2Gi"), Condition::NotInRange(..)));
}
