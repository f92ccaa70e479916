//! The AdmissionReview wire format: parsing requests (`admission.k8s.io/v1` and `v1beta1`) and
//! writing responses in the version that was asked.

use base64::Engine as _;
use palisade_engine::AdmissionRequest;
use serde::{Deserialize, Serialize};

/// The API versions of AdmissionReview that are understood.
pub const SUPPORTED_VERSIONS: [&str; 2] = ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"];

/// Why a request body is not a usable AdmissionReview (all answered with 400).
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// The body is not JSON (includes invalid UTF-8 and nesting deeper than serde_json's limit of 128).
    #[error("request body is not valid JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// The JSON is not an AdmissionReview.
    #[error("request body is not an AdmissionReview: kind is `{0}`")]
    WrongKind(String),
    /// The apiVersion is not one we answer.
    #[error("unsupported AdmissionReview apiVersion `{0}`; expected admission.k8s.io/v1 or admission.k8s.io/v1beta1")]
    WrongVersion(String),
    /// There is no `request`.
    #[error("AdmissionReview has no request")]
    MissingRequest,
    /// The request has no `uid`.
    #[error("AdmissionReview request has no uid")]
    MissingUid,
    /// The request has no `kind.kind`.
    #[error("AdmissionReview request has no kind")]
    MissingKind,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IncomingReview {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    request: Option<AdmissionRequest>,
}

/// A parsed AdmissionReview request.
#[derive(Debug, Clone)]
pub struct Review {
    /// The apiVersion the answer must use.
    pub api_version: String,
    /// The admission request.
    pub request: AdmissionRequest,
}

/// Parses and checks an AdmissionReview body.
pub fn parse_review(body: &[u8]) -> Result<Review, ReviewError> {
    let incoming: IncomingReview = serde_json::from_slice(body).map_err(ReviewError::Json)?;
    if incoming.kind != "AdmissionReview" {
        return Err(ReviewError::WrongKind(incoming.kind));
    }
    if !SUPPORTED_VERSIONS.contains(&incoming.api_version.as_str()) {
        return Err(ReviewError::WrongVersion(incoming.api_version));
    }
    let request = incoming.request.ok_or(ReviewError::MissingRequest)?;
    if request.uid.is_empty() {
        return Err(ReviewError::MissingUid);
    }
    if request.kind.kind.is_empty() {
        return Err(ReviewError::MissingKind);
    }
    Ok(Review { api_version: incoming.api_version, request })
}

/// The `status` of a denied response (a `metav1.Status`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    /// Always `Failure` for denials.
    pub status: &'static str,
    /// Human-readable reason, shown by kubectl.
    pub message: String,
    /// HTTP-like code; the API server reports it to the client.
    pub code: u16,
}

/// The `response` of an AdmissionReview.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionResponse {
    /// The request uid, echoed.
    pub uid: String,
    /// Whether the request is admitted.
    pub allowed: bool,
    /// Why it was denied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// `JSONPatch` when `patch` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<&'static str>,
    /// Base64 of the RFC 6902 patch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    /// Warnings shown to the client.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl AdmissionResponse {
    /// An allowing response.
    pub fn allow(uid: &str) -> Self {
        Self { uid: uid.to_string(), allowed: true, status: None, patch_type: None, patch: None, warnings: Vec::new() }
    }

    /// A denying response with `message` (code 403).
    pub fn deny(uid: &str, message: impl Into<String>) -> Self {
        Self {
            status: Some(Status { status: "Failure", message: message.into(), code: 403 }),
            allowed: false,
            ..Self::allow(uid)
        }
    }

    /// Attaches an RFC 6902 patch (serialized and base64-encoded).
    pub fn with_patch(mut self, patch: &json_patch::Patch) -> Result<Self, serde_json::Error> {
        let bytes = serde_json::to_vec(patch)?;
        self.patch = Some(base64::engine::general_purpose::STANDARD.encode(bytes));
        self.patch_type = Some("JSONPatch");
        Ok(self)
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutgoingReview<'a> {
    api_version: &'a str,
    kind: &'static str,
    response: &'a AdmissionResponse,
}

/// Serializes the answering AdmissionReview in `api_version`.
pub fn encode_review(api_version: &str, response: &AdmissionResponse) -> Vec<u8> {
    let review = OutgoingReview { api_version, kind: "AdmissionReview", response };
    // Serializing plain strings, bools and vectors cannot fail.
    serde_json::to_vec(&review).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn review(api_version: &str) -> Value {
        json!({
            "apiVersion": api_version, "kind": "AdmissionReview",
            "request": {
                "uid": "u-1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "resource": {"group": "", "version": "v1", "resource": "pods"},
                "namespace": "default", "operation": "CREATE", "object": {"kind": "Pod"},
                "userInfo": {"username": "alice", "groups": ["dev"]}, "dryRun": true
            }
        })
    }

    #[test]
    fn parses_both_versions() {
        for version in SUPPORTED_VERSIONS {
            let parsed = parse_review(review(version).to_string().as_bytes()).unwrap();
            assert_eq!(parsed.api_version, version);
            assert_eq!(parsed.request.uid, "u-1");
            assert_eq!(parsed.request.user_info.username, "alice");
            assert_eq!(parsed.request.dry_run, Some(true));
        }
    }

    #[test]
    fn rejects_bad_reviews() {
        let deep = format!(
            r#"{{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                "request": {{"uid": "x", "kind": {{"kind": "Pod"}}, "object": {}{}}}}}"#,
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        let no_uid = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"kind": {"kind": "Pod"}}});
        let no_kind = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "x"}});
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"not json".to_vec(), "not valid JSON"),
            (vec![b'"', 0xff, 0xfe, b'"'], "not valid JSON"),
            (deep.into_bytes(), "recursion limit"),
            (br#"{"kind": "Pod", "apiVersion": "v1"}"#.to_vec(), "not an AdmissionReview"),
            (br#"{"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v2"}"#.to_vec(), "unsupported"),
            (br#"{"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1"}"#.to_vec(), "no request"),
            (no_uid.to_string().into_bytes(), "no uid"),
            (no_kind.to_string().into_bytes(), "no kind"),
        ];
        for (body, want) in cases {
            let err = parse_review(&body).unwrap_err().to_string();
            assert!(err.contains(want), "{err} should contain {want}");
        }
    }

    #[test]
    fn encodes_denials_and_patches() {
        let patch: json_patch::Patch =
            serde_json::from_value(json!([{"op": "add", "path": "/metadata/labels", "value": {"a": "b"}}])).unwrap();
        let response = AdmissionResponse::allow("u").with_patch(&patch).unwrap();
        let out: Value = serde_json::from_slice(&encode_review("admission.k8s.io/v1beta1", &response)).unwrap();
        assert_eq!(out["apiVersion"], "admission.k8s.io/v1beta1");
        assert_eq!(out["response"]["patchType"], "JSONPatch");
        let decoded =
            base64::engine::general_purpose::STANDARD.decode(out["response"]["patch"].as_str().unwrap()).unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&decoded).unwrap()[0]["op"], "add");

        let denied = AdmissionResponse::deny("u", "no");
        let out: Value = serde_json::from_slice(&encode_review("admission.k8s.io/v1", &denied)).unwrap();
        assert_eq!(
            out["response"],
            json!({"uid": "u", "allowed": false,
            "status": {"status": "Failure", "message": "no", "code": 403}})
        );
    }
}
