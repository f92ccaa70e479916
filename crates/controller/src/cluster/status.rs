//! Pure helpers for status writes: whether the live status already says what the catalog would write, and
//! RFC 3339 timestamps without a date library.

use serde_json::Value;

/// Whether `live` (the watched object) already carries the `Ready` condition of `desired` (a status patch from
/// [`crate::catalog::Catalog::status_patch`]); the transition time is not compared, so an unchanged condition is
/// not rewritten (which would trigger another watch event).
pub fn status_is_current(live: &Value, desired: &Value) -> bool {
    let ready = |status: &Value| -> Option<Value> {
        status.pointer("/status/conditions")?.as_array()?.iter().find(|c| c["type"] == "Ready").cloned()
    };
    let (Some(have), Some(want)) = (ready(live), ready(desired)) else { return false };
    ["status", "reason", "message", "observedGeneration"].iter().all(|k| have.get(*k) == want.get(*k))
        && live.pointer("/status/ready") == desired.pointer("/status/ready")
}

/// `secs` since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(secs: u64) -> String {
    let (year, month, day) = crate::serving_ca::civil(secs);
    let rem = secs % 86_400;
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3_600, rem % 3_600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps() {
        let cases = [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_795_478_399, "2026-11-23T23:59:59Z"),
            (4_107_542_400, "2100-03-01T00:00:00Z"),
        ];
        for (secs, want) in cases {
            assert_eq!(rfc3339(secs), want, "{secs}");
        }
    }

    #[test]
    fn current_status() {
        let cond = |status: &str, message: &str, generation: i64| {
            json!({"status": {"ready": status == "True", "conditions": [{"type": "Ready", "status": status,
                "reason": "R", "message": message, "observedGeneration": generation,
                "lastTransitionTime": "2026-01-01T00:00:00Z"}]}})
        };
        let desired = cond("True", "ok", 2);
        let mut later = desired.clone();
        later["status"]["conditions"][0]["lastTransitionTime"] = json!("2027-01-01T00:00:00Z");
        let cases = [
            (cond("True", "ok", 2), true),
            (later, true),
            (cond("True", "ok", 1), false),
            (cond("False", "ok", 2), false),
            (cond("True", "other", 2), false),
            (json!({"status": {"ready": true}}), false),
            (json!({}), false),
        ];
        for (live, want) in cases {
            assert_eq!(status_is_current(&live, &desired), want, "{live}");
        }
    }
}
