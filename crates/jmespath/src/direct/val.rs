//! Intermediate values of the in-place interpreter: borrowed JSON, owned JSON, or a list of either
//! (what projections, flattening and multi-select lists build, without copying their elements).

use jmespath::ast::Comparator;
use jmespath::{Rcvar, Variable};
use serde_json::{Map, Value};

use crate::util::from_json;

/// A value during evaluation.
#[derive(Clone, Debug)]
pub enum Val<'a> {
    /// A part of the input, or of a literal in the expression.
    Ref(&'a Value),
    /// A value computed during evaluation.
    Owned(Value),
    /// An array whose elements are not copied.
    List(Vec<Val<'a>>),
}

/// JSON null.
pub const NULL: Value = Value::Null;

impl<'a> Val<'a> {
    /// Null.
    pub fn null() -> Self {
        Val::Ref(&NULL)
    }

    /// The JSON value, unless this is a list.
    pub fn json(&self) -> Option<&Value> {
        match self {
            Val::Ref(v) => Some(v),
            Val::Owned(v) => Some(v),
            Val::List(_) => None,
        }
    }

    /// Whether this is JSON null.
    pub fn is_null(&self) -> bool {
        matches!(self.json(), Some(Value::Null))
    }

    /// Whether this is an array (a JSON one or a list).
    pub fn is_array(&self) -> bool {
        matches!(self, Val::List(_)) || matches!(self.json(), Some(Value::Array(_)))
    }

    /// The elements, when this is an array; borrowed elements stay borrowed.
    pub fn into_items(self) -> Option<Vec<Val<'a>>> {
        match self {
            Val::Ref(Value::Array(items)) => Some(items.iter().map(Val::Ref).collect()),
            Val::Owned(Value::Array(items)) => Some(items.into_iter().map(Val::Owned).collect()),
            Val::List(items) => Some(items),
            _ => None,
        }
    }

    /// Number of elements, when this is an array.
    pub fn array_len(&self) -> Option<usize> {
        match self {
            Val::List(items) => Some(items.len()),
            other => other.json().and_then(Value::as_array).map(Vec::len),
        }
    }

    /// JMESPath truthiness.
    pub fn truthy(&self) -> bool {
        match self {
            Val::List(items) => !items.is_empty(),
            Val::Ref(v) => truthy(v),
            Val::Owned(v) => truthy(v),
        }
    }

    /// An owned JSON value (object keys as they are).
    pub fn into_value(self) -> Value {
        match self {
            Val::Ref(v) => v.clone(),
            Val::Owned(v) => v,
            Val::List(items) => Value::Array(items.into_iter().map(Val::into_value).collect()),
        }
    }

    /// The value in the `jmespath` crate's type, for a registered function.
    pub fn to_variable(&self) -> Rcvar {
        match self {
            Val::Ref(v) => Rcvar::new(from_json(v)),
            Val::Owned(v) => Rcvar::new(from_json(v)),
            Val::List(items) => Rcvar::new(Variable::Array(items.iter().map(Val::to_variable).collect())),
        }
    }
}

use crate::truthy;

/// The result as JSON, with object keys in order, as converting back from the crate's maps does.
pub fn finish(value: Val<'_>) -> Value {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            Value::Object(map) => {
                Value::Object(sorted_entries(map).into_iter().map(|(k, v)| (k.clone(), sorted(v))).collect())
            }
            other => other.clone(),
        }
    }
    fn is_sorted(v: &Value) -> bool {
        match v {
            Value::Array(items) => items.iter().all(is_sorted),
            Value::Object(map) => map.keys().is_sorted() && map.values().all(is_sorted),
            _ => true,
        }
    }
    match value {
        Val::List(items) => Value::Array(items.into_iter().map(finish).collect()),
        Val::Owned(v) if is_sorted(&v) => v,
        Val::Owned(v) => sorted(&v),
        Val::Ref(v) if is_sorted(v) => v.clone(),
        Val::Ref(v) => sorted(v),
    }
}

/// The entries of an object in key order, as the crate's (and Go's) maps iterate.
pub fn sorted_entries(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    entries
}

/// The crate's slice of an array.
pub fn slice<T: Clone>(items: &[T], start: Option<i32>, stop: Option<i32>, step: i32) -> Vec<T> {
    let mut result = vec![];
    let len = items.len() as i32;
    if len == 0 {
        return result;
    }
    let adjust = |mut endpoint: i32| {
        if endpoint < 0 {
            endpoint += len;
            if endpoint >= 0 {
                endpoint
            } else if step < 0 {
                -1
            } else {
                0
            }
        } else if endpoint < len {
            endpoint
        } else if step < 0 {
            len - 1
        } else {
            len
        }
    };
    let a = match start {
        Some(s) => adjust(s),
        None if step < 0 => len - 1,
        None => 0,
    };
    let b = match stop {
        Some(s) => adjust(s),
        None if step < 0 => -1,
        None => len,
    };
    let mut i = a;
    if step > 0 {
        while i < b {
            result.push(items[i as usize].clone());
            i += step;
        }
    } else {
        while i > b {
            result.push(items[i as usize].clone());
            i += step;
        }
    }
    result
}

/// The crate's comparison: equality on any values, ordering on numbers only (else null).
pub fn compare(cmp: &Comparator, left: &Val<'_>, right: &Val<'_>) -> Option<bool> {
    match cmp {
        Comparator::Equal => Some(equal(left, right)),
        Comparator::NotEqual => Some(!equal(left, right)),
        ordering => {
            let (Some(Value::Number(a)), Some(Value::Number(b))) = (left.json(), right.json()) else { return None };
            let (a, b) = (a.as_f64()?, b.as_f64()?);
            let ord = a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Less);
            Some(match ordering {
                Comparator::LessThan => ord.is_lt(),
                Comparator::LessThanEqual => ord.is_le(),
                Comparator::GreaterThan => ord.is_gt(),
                _ => ord.is_ge(),
            })
        }
    }
}

/// The crate's equality: same type, numbers within float tolerance, containers element-wise.
pub fn equal(left: &Val<'_>, right: &Val<'_>) -> bool {
    match (left, right) {
        (Val::List(a), Val::List(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| equal(x, y)),
        (Val::List(a), other) | (other, Val::List(a)) => match other.json() {
            Some(Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| equal(x, &Val::Ref(y))),
            _ => false,
        },
        (a, b) => match (a.json(), b.json()) {
            (Some(a), Some(b)) => equal_json(a, b),
            _ => false,
        },
    }
}

fn equal_json(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => float_eq(a, b),
            _ => false,
        },
        (Value::Array(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| equal_json(x, y)),
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| equal_json(v, w)))
        }
        _ => false,
    }
}

/// The crate's float equality (relative tolerance).
fn float_eq(a: f64, b: f64) -> bool {
    let diff = (a - b).abs();
    if a == b {
        true
    } else if !a.is_normal() || !b.is_normal() {
        diff < (f64::EPSILON * f64::MIN_POSITIVE)
    } else {
        diff / (a.abs() + b.abs()) < f64::EPSILON
    }
}
