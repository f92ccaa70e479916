//! The function table: Kyverno's custom functions with their signatures, plus the standard set.

use std::sync::LazyLock;

use jmespath::functions::{ArgumentType, CustomFunction, Signature};
use jmespath::{Context, Rcvar, Runtime};

use crate::util::FnResult;
use crate::{arithmetic, data, strings, time, x509};

/// Description of one function available in expressions (for `palisade jp function`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionInfo {
    /// Function name.
    pub name: &'static str,
    /// Signature, e.g. `add(any, any) any`.
    pub signature: &'static str,
    /// What the function does.
    pub description: &'static str,
}

type Handler = fn(&[Rcvar], &mut Context<'_>) -> FnResult;

/// One Kyverno custom function: name, argument types, signature text, note and implementation.
struct Custom(&'static str, &'static [Arg], &'static str, &'static str, Handler);

/// Argument types as Kyverno declares them.
#[derive(Clone, Copy)]
enum Arg {
    Any,
    Str,
    Num,
    Obj,
    Arr,
    StrOrNum,
    ObjOrArr,
}

impl Arg {
    fn to_type(self) -> ArgumentType {
        use ArgumentType as T;
        match self {
            Arg::Any => T::Any,
            Arg::Str => T::String,
            Arg::Num => T::Number,
            Arg::Obj => T::Object,
            Arg::Arr => T::Array,
            Arg::StrOrNum => T::Union(vec![T::String, T::Number]),
            Arg::ObjOrArr => T::Union(vec![T::Object, T::Array]),
        }
    }
}

use Arg::*;

const CUSTOM: &[Custom] = &[
    Custom(
        "compare",
        &[Str, Str],
        "compare(string, string) number",
        "compares two strings lexicographically",
        strings::compare,
    ),
    Custom(
        "equal_fold",
        &[Str, Str],
        "equal_fold(string, string) bool",
        "allows comparing two strings for equivalency where the only differences are letter cases",
        strings::equal_fold,
    ),
    Custom(
        "replace",
        &[Str, Str, Str, Num],
        "replace(string, string, string, number) string",
        "replaces a specified number of instances of the source string with the replacement string in a parent",
        strings::replace,
    ),
    Custom(
        "replace_all",
        &[Str, Str, Str],
        "replace_all(string, string, string) string",
        "replace all instances of one string with another in an overall parent string",
        strings::replace_all,
    ),
    Custom(
        "to_upper",
        &[Str],
        "to_upper(string) string",
        "takes in a string and outputs the same string with all upper-case letters",
        strings::to_upper,
    ),
    Custom(
        "to_lower",
        &[Str],
        "to_lower(string) string",
        "takes in a string and outputs the same string with all lower-case letters",
        strings::to_lower,
    ),
    Custom(
        "trim",
        &[Str, Str],
        "trim(string, string) string",
        "trims both ends of the source string by characters appearing in the second string",
        strings::trim,
    ),
    Custom(
        "trim_prefix",
        &[Str, Str],
        "trim_prefix(string, string) string",
        "trims the second string prefix from the first string if the first string starts with the prefix",
        strings::trim_prefix,
    ),
    Custom(
        "split",
        &[Str, Str],
        "split(string, string) array[string]",
        "splits the first string when the second string is found and converts it into an array",
        strings::split,
    ),
    Custom(
        "regex_replace_all",
        &[Str, StrOrNum, StrOrNum],
        "regex_replace_all(string, string|number, string|number) string",
        "converts all parameters to string",
        strings::regex_replace_all,
    ),
    Custom(
        "regex_replace_all_literal",
        &[Str, StrOrNum, StrOrNum],
        "regex_replace_all_literal(string, string|number, string|number) string",
        "converts all parameters to string",
        strings::regex_replace_all_literal,
    ),
    Custom(
        "regex_match",
        &[Str, StrOrNum],
        "regex_match(string, string|number) bool",
        "first string is the regular exression which is compared with second input which can be a number or string",
        strings::regex_match,
    ),
    Custom(
        "pattern_match",
        &[Str, StrOrNum],
        "pattern_match(string, string|number) bool",
        "'*' matches zero or more alphanumeric characters, '?' matches a single alphanumeric character",
        strings::pattern_match,
    ),
    Custom(
        "label_match",
        &[Obj, Obj],
        "label_match(object, object) bool",
        "object arguments must be enclosed in backticks; ex. `{{request.object.spec.template.metadata.labels}}`",
        data::label_match,
    ),
    Custom(
        "to_boolean",
        &[Str],
        "to_boolean(string) bool",
        "It returns true or false for any string, such as 'True', 'TruE', 'False', 'FAlse', 'faLSE', etc.",
        data::to_boolean,
    ),
    Custom(
        "add",
        &[Any, Any],
        "add(any, any) any",
        "does arithmetic addition of two specified values of numbers, quantities, and durations",
        arithmetic::add,
    ),
    Custom(
        "sum",
        &[Arr],
        "sum(array) any",
        "does arithmetic addition of specified array of values of numbers, quantities, and durations",
        arithmetic::sum,
    ),
    Custom(
        "subtract",
        &[Any, Any],
        "subtract(any, any) any",
        "does arithmetic subtraction of two specified values of numbers, quantities, and durations",
        arithmetic::subtract,
    ),
    Custom(
        "multiply",
        &[Any, Any],
        "multiply(any, any) any",
        "does arithmetic multiplication of two specified values of numbers, quantities, and durations",
        arithmetic::multiply,
    ),
    Custom("divide", &[Any, Any], "divide(any, any) any", "divisor must be non zero", arithmetic::divide),
    Custom(
        "modulo",
        &[Any, Any],
        "modulo(any, any) any",
        "divisor must be non-zero, arguments must be integers",
        arithmetic::modulo,
    ),
    Custom(
        "round",
        &[Num, Num],
        "round(number, number) number",
        "does roundoff to upto the given decimal places",
        arithmetic::round,
    ),
    Custom("base64_decode", &[Str], "base64_decode(string) string", "decodes a base 64 string", data::base64_decode),
    Custom(
        "base64_encode",
        &[Str],
        "base64_encode(string) string",
        "encodes a regular, plaintext and unencoded string to base64",
        data::base64_encode,
    ),
    Custom(
        "time_since",
        &[Str, Str, Str],
        "time_since(string, string, string) string",
        "calculate the difference between a start and end period of time where the end may either be a static definition or the then-current time",
        time::time_since,
    ),
    Custom("time_now", &[], "time_now() string", "returns current time in RFC 3339 format", time::time_now),
    Custom(
        "time_now_utc",
        &[],
        "time_now_utc() string",
        "returns current UTC time in RFC 3339 format",
        time::time_now_utc,
    ),
    Custom(
        "path_canonicalize",
        &[Str],
        "path_canonicalize(string) string",
        "normalizes or canonicalizes a given path by removing excess slashes",
        data::path_canonicalize,
    ),
    Custom(
        "truncate",
        &[Str, Num],
        "truncate(string, number) string",
        "length argument must be enclosed in backticks; ex. \"{{request.object.metadata.name | truncate(@, `9`)}}\"",
        strings::truncate,
    ),
    Custom(
        "semver_compare",
        &[Str, Str],
        "semver_compare(string, string) bool",
        "compares two strings which comply with the semantic versioning schema and outputs a boolean response as to the position of the second relative to the first",
        data::semver_compare,
    ),
    Custom(
        "parse_json",
        &[Str],
        "parse_json(string) any",
        "decodes a valid JSON encoded string to the appropriate type. Opposite of `to_string` function",
        data::parse_json,
    ),
    Custom(
        "parse_yaml",
        &[Str],
        "parse_yaml(string) any",
        "decodes a valid YAML encoded string to the appropriate type provided it can be represented as JSON",
        data::parse_yaml,
    ),
    Custom(
        "lookup",
        &[ObjOrArr, StrOrNum],
        "lookup(object|array, string|number) any",
        "returns the value corresponding to the given key/index in the given object/array",
        data::lookup,
    ),
    Custom(
        "items",
        &[ObjOrArr, Str, Str],
        "items(object|array, string, string) array",
        "converts a map or array to an array of objects where each key:value is an item in the array",
        data::items,
    ),
    Custom(
        "object_from_lists",
        &[Arr, Arr],
        "object_from_lists(array, array) object",
        "converts a pair of lists containing keys and values to an object",
        data::object_from_lists,
    ),
    Custom("random", &[Str], "random(string) string", "Generates a random sequence of characters", data::random),
    Custom(
        "x509_decode",
        &[Str],
        "x509_decode(string) object",
        "decodes an x.509 certificate to an object. you may also use this in conjunction with `base64_decode` jmespath function to decode a base64-encoded certificate",
        x509::x509_decode,
    ),
    Custom(
        "time_to_cron",
        &[Str],
        "time_to_cron(string) string",
        "converts a time (RFC 3339) to a cron expression (string).",
        time::time_to_cron,
    ),
    Custom(
        "time_add",
        &[Str, Str],
        "time_add(string, string) string",
        "adds duration (second string) to a time value (first string)",
        time::time_add,
    ),
    Custom(
        "time_parse",
        &[Str, Str],
        "time_parse(string, string) string",
        "changes a time value of a given layout to RFC 3339",
        time::time_parse,
    ),
    Custom(
        "time_utc",
        &[Str],
        "time_utc(string) string",
        "calcutes time in UTC from a given time in RFC 3339 format",
        time::time_utc,
    ),
    Custom(
        "time_diff",
        &[Str, Str],
        "time_diff(string, string) string",
        "calculate the difference between a start and end date in RFC3339 format",
        time::time_diff,
    ),
    Custom(
        "time_before",
        &[Str, Str],
        "time_before(string, string) bool",
        "checks if a time is before another time, both in RFC3339 format",
        time::time_before,
    ),
    Custom(
        "time_after",
        &[Str, Str],
        "time_after(string, string) bool",
        "checks if a time is after another time, both in RFC3339 format",
        time::time_after,
    ),
    Custom(
        "time_between",
        &[Str, Str, Str],
        "time_between(string, string, string) bool",
        "checks if a time is between a start and end time, all in RFC3339 format",
        time::time_between,
    ),
    Custom(
        "time_truncate",
        &[Str, Str],
        "time_truncate(string, string) string",
        "returns the result of rounding time down to a multiple of duration",
        time::time_truncate,
    ),
    Custom(
        "image_normalize",
        &[Str],
        "image_normalize(string) string",
        "normalizes an image reference",
        data::image_normalize,
    ),
    Custom(
        "is_external_url",
        &[Str],
        "is_external_url(string) bool",
        "determine if a URL points to an external network address",
        data::is_external_url,
    ),
    Custom(
        "sha256",
        &[Str],
        "sha256(string) string",
        "hashes a string with SHA-256 and returns the hex digest",
        data::sha256,
    ),
    Custom("sha1", &[Str], "sha1(string) string", "hashes a string with SHA-1 and returns the hex digest", data::sha1),
    Custom("md5", &[Str], "md5(string) string", "hashes a string with MD5 and returns the hex digest", data::md5),
];

/// The standard JMESPath functions (those Kyverno does not replace).
const STANDARD: &[(&str, &str)] = &[
    ("abs", "abs(number) number"),
    ("avg", "avg(array[number]) number"),
    ("ceil", "ceil(number) number"),
    ("contains", "contains(array|string, any) bool"),
    ("ends_with", "ends_with(string, string) bool"),
    ("floor", "floor(number) number"),
    ("join", "join(string, array[string]) string"),
    ("keys", "keys(object) array[string]"),
    ("length", "length(string|array|object) number"),
    ("map", "map(expref, array) array"),
    ("max", "max(array[number]|array[string]) number|string"),
    ("max_by", "max_by(array, expref) any"),
    ("merge", "merge(object, ...object) object"),
    ("min", "min(array[number]|array[string]) number|string"),
    ("min_by", "min_by(array, expref) any"),
    ("not_null", "not_null(any, ...any) any"),
    ("reverse", "reverse(string|array) string|array"),
    ("sort", "sort(array[number]|array[string]) array"),
    ("sort_by", "sort_by(array, expref) array"),
    ("starts_with", "starts_with(string, string) bool"),
    ("to_array", "to_array(any) array"),
    ("to_number", "to_number(any) number"),
    ("to_string", "to_string(any) string"),
    ("type", "type(any) string"),
    ("values", "values(object) array"),
];

static INFOS: LazyLock<Vec<FunctionInfo>> = LazyLock::new(|| {
    let standard = STANDARD.iter().map(|(name, signature)| FunctionInfo {
        name,
        signature,
        description: "standard JMESPath function",
    });
    let custom = CUSTOM.iter().map(|c| FunctionInfo { name: c.0, signature: c.2, description: c.3 });
    let mut all: Vec<FunctionInfo> = standard.chain(custom).collect();
    all.sort_by(|a, b| a.name.cmp(b.name));
    all
});

/// All functions usable in expressions, standard and Kyverno's, sorted by name.
pub fn functions() -> &'static [FunctionInfo] {
    &INFOS
}

/// Registers Kyverno's functions on `runtime` (replacing the standard `sum`).
pub(crate) fn register(runtime: &mut Runtime) {
    for Custom(name, args, _, _, handler) in CUSTOM {
        let signature = Signature::new(args.iter().map(|a| a.to_type()).collect(), None);
        let handler = *handler;
        runtime.register_function(name, Box::new(CustomFunction::new(signature, Box::new(handler))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_table_is_complete_and_unique() {
        let mut names: Vec<&str> = functions().iter().map(|f| f.name).collect();
        names.sort_unstable();
        let mut dedup = names.clone();
        dedup.dedup();
        assert_eq!(names, dedup, "duplicate function names");
        // Upstream registers 51 functions on top of the standard set (pkg/engine/jmespath).
        assert_eq!(CUSTOM.len(), 51);
        for f in functions() {
            assert!(f.signature.starts_with(&format!("{}(", f.name)), "{}", f.signature);
        }
    }
}
