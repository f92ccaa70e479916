//! The AdmissionReview wire format: parsing requests (`admission.k8s.io/v1` and `v1beta1`) and
//! writing responses in the version that was asked.

use crate::yaml::{HIGHS, ONES, matching_bytes};
use base64::Engine as _;
use palisade_engine::AdmissionRequest;
use palisade_engine::patch::PatchOperation;
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

/// A denial message: text, or text already in the form of a JSON string's contents, which the answer
/// holds as is (Kyverno's block message of printable text, written with `\n` escapes for its line breaks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// The text.
    Text(String),
    /// The contents of the JSON string of the text: printable ASCII in which a backslash only starts an
    /// escape (`\n`, `\"` or `\\`).
    Json(String),
}

impl Message {
    /// The text (the JSON form unescaped).
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Message::Text(text) => text.into(),
            Message::Json(json) if !json.contains('\\') => json.into(),
            Message::Json(json) => {
                let mut text = String::with_capacity(json.len());
                let mut chars = json.chars();
                while let Some(c) = chars.next() {
                    if c != '\\' {
                        text.push(c);
                        continue;
                    }
                    match chars.next() {
                        Some('n') => text.push('\n'),
                        Some(escaped) => text.push(escaped),
                        None => {}
                    }
                }
                text.into()
            }
        }
    }

    /// Its length in the answer, about.
    fn len(&self) -> usize {
        match self {
            Message::Text(text) | Message::Json(text) => text.len(),
        }
    }
}

impl std::fmt::Display for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text())
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Message::Text(text)
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Message::Text(text.to_string())
    }
}

impl Serialize for Message {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text())
    }
}

/// The `status` of a denied response (a `metav1.Status`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    /// Always `Failure` for denials.
    pub status: &'static str,
    /// Human-readable reason, shown by kubectl.
    pub message: Message,
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
    pub fn deny(uid: &str, message: impl Into<Message>) -> Self {
        Self {
            status: Some(Status { status: "Failure", message: message.into(), code: 403 }),
            allowed: false,
            ..Self::allow(uid)
        }
    }

    /// Attaches an RFC 6902 patch (serialized and base64-encoded).
    pub fn with_patch(mut self, patch: &[PatchOperation]) -> Result<Self, serde_json::Error> {
        let bytes = serde_json::to_vec(patch)?;
        self.patch = Some(base64::engine::general_purpose::STANDARD.encode(bytes));
        self.patch_type = Some("JSONPatch");
        Ok(self)
    }
}

#[cfg(test)]
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutgoingReview<'a> {
    api_version: &'a str,
    kind: &'static str,
    response: &'a AdmissionResponse,
}

/// Serializes the answering AdmissionReview in `api_version`: the same JSON as the `Serialize` form,
/// written directly (denial messages run to kilobytes, and serde's string escaping goes byte by byte).
pub fn encode_review(api_version: &str, response: &AdmissionResponse) -> Vec<u8> {
    let message_len = response.status.as_ref().map_or(0, |s| s.message.len() + s.message.len() / 32);
    let patch_len = response.patch.as_ref().map_or(0, String::len);
    let warnings_len: usize = response.warnings.iter().map(|w| w.len() + 3).sum();
    let mut out = Vec::with_capacity(160 + response.uid.len() + message_len + patch_len + warnings_len);
    out.extend_from_slice(b"{\"apiVersion\":");
    json_string(&mut out, api_version);
    out.extend_from_slice(b",\"kind\":\"AdmissionReview\",\"response\":{\"uid\":");
    json_string(&mut out, &response.uid);
    out.extend_from_slice(if response.allowed { b",\"allowed\":true" } else { b",\"allowed\":false" });
    if let Some(status) = &response.status {
        out.extend_from_slice(b",\"status\":{\"status\":");
        json_string(&mut out, status.status);
        out.extend_from_slice(b",\"message\":");
        match &status.message {
            Message::Text(text) => json_string(&mut out, text),
            Message::Json(json) => {
                out.push(b'"');
                out.extend_from_slice(json.as_bytes());
                out.push(b'"');
            }
        }
        out.extend_from_slice(b",\"code\":");
        out.extend_from_slice(status.code.to_string().as_bytes());
        out.push(b'}');
    }
    if let Some(patch_type) = response.patch_type {
        out.extend_from_slice(b",\"patchType\":");
        json_string(&mut out, patch_type);
    }
    if let Some(patch) = &response.patch {
        out.extend_from_slice(b",\"patch\":");
        json_string(&mut out, patch);
    }
    if !response.warnings.is_empty() {
        out.extend_from_slice(b",\"warnings\":[");
        for (i, warning) in response.warnings.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json_string(&mut out, warning);
        }
        out.push(b']');
    }
    out.extend_from_slice(b"}}");
    out
}

/// The index of the first byte of `word` (little-endian) that JSON must escape: a control character, `"`
/// or `\\`. Word-at-a-time tests (as in the YAML emitter): a lane's high bit is set when the byte is below
/// 0x20 or equal to a quote or backslash; borrows only carry past a lane that matched, so the lowest set bit
/// is exact.
fn first_escape(word: u64) -> Option<usize> {
    let below = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    let hits = below | matching_bytes(word, b'"') | matching_bytes(word, b'\\');
    (hits != 0).then(|| (hits.trailing_zeros() / 8) as usize)
}

/// Appends `text` as a JSON string, escaped as `serde_json` does (quote, backslash, control characters).
fn json_string(out: &mut Vec<u8>, text: &str) {
    /// True for the bytes that need escaping.
    const ESCAPED: [bool; 256] = {
        let mut table = [false; 256];
        let mut b = 0;
        while b < 0x20 {
            table[b] = true;
            b += 1;
        }
        table[b'"' as usize] = true;
        table[b'\\' as usize] = true;
        table
    };
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    out.push(b'"');
    let mut run = 0;
    let mut escape = |out: &mut Vec<u8>, i: usize, b: u8| {
        out.extend_from_slice(&bytes[run..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]),
        }
        run = i + 1;
    };
    // 16 bytes at a time (a comparison the compiler vectorizes); in the few blocks that hold something to
    // escape, each 8-byte half is searched a word at a time.
    let needs_escape = |b: u8| (b < 0x20) | (b == b'"') | (b == b'\\');
    let (blocks, tail) = bytes.as_chunks::<16>();
    for (n, block) in blocks.iter().enumerate() {
        if !block.iter().fold(false, |seen, &b| seen | needs_escape(b)) {
            continue;
        }
        let (halves, _) = block.as_chunks::<8>();
        for (h, half) in halves.iter().enumerate() {
            let base = n * 16 + h * 8;
            let mut word = u64::from_le_bytes(*half);
            while let Some(k) = first_escape(word) {
                escape(out, base + k, half[k]);
                // Bytes up to the one escaped become harmless, so the next search finds the next byte.
                let done = u64::MAX >> (56 - 8 * k as u32);
                word = (word & !done) | ((ONES * u64::from(b'a')) & done);
            }
        }
    }
    let tail_start = bytes.len() - tail.len();
    for (k, &b) in tail.iter().enumerate() {
        if ESCAPED[usize::from(b)] {
            escape(out, tail_start + k, b);
        }
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_engine::patch::PatchOp;
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
        let patch =
            [PatchOperation { op: PatchOp::Add, path: "/metadata/labels".into(), value: Some(json!({"a": "b"})) }];
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
    #[test]
    fn word_search_finds_the_first_byte_to_escape() {
        let escaped = |b: u8| b < 0x20 || b == b'"' || b == b'\\';
        for first in 0..=255u8 {
            for second in [0u8, b'"', b'\\', b'a', 0x1f, 0x20, 0xff] {
                for k in 0..8 {
                    for j in 0..8 {
                        let mut word = [b'a'; 8];
                        word[k] = first;
                        word[j] = second;
                        let want = word.iter().position(|&b| escaped(b));
                        assert_eq!(first_escape(u64::from_le_bytes(word)), want, "{word:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn messages_in_json_form_are_written_as_is_and_read_back_as_text() {
        let text = "\n\nresource Pod/ns/x was blocked \n\np:\n  \"true\": 'a \\ b'\n";
        let escaped = serde_json::to_string(text).unwrap();
        let json = Message::Json(escaped[1..escaped.len() - 1].to_string());
        assert_eq!(json.text(), text);
        assert_eq!(json.to_string(), text);
        assert_eq!(Message::from(text).text(), text);
        // Both forms give the same answer, byte for byte.
        let answer = |message: Message| encode_review("admission.k8s.io/v1", &AdmissionResponse::deny("u", message));
        assert_eq!(answer(json), answer(Message::from(text)));
        let out: Value = serde_json::from_slice(&answer(Message::from(text))).unwrap();
        assert_eq!(out["response"]["status"]["message"], text);
    }

    #[test]
    fn direct_encoding_matches_serde_byte_for_byte() {
        let patch = [PatchOperation { op: PatchOp::Add, path: "/a".into(), value: Some(json!("x")) }];
        let mut every_byte = String::new();
        for b in 0u8..0x80 {
            every_byte.push(char::from(b));
        }
        every_byte.push_str("ünïcödé \u{2028} ✓");
        let mut allowed = AdmissionResponse::allow("u-\"1\"").with_patch(&patch).unwrap();
        allowed.warnings = vec!["policy a.b: it's \"bad\"\n".into(), every_byte.clone()];
        let responses = [
            AdmissionResponse::allow("u"),
            AdmissionResponse::deny("u", every_byte.clone()),
            AdmissionResponse::deny(
                "u",
                "\n\nresource Pod/default/x was blocked\n\np:\n  r: 'validation error: a\n    b'\n",
            ),
            allowed,
        ];
        // Escapes at every position around the 16-byte chunks.
        let mut responses = responses.to_vec();
        for len in 0..40 {
            for at in 0..len {
                let mut text: Vec<char> = "abcdefghijklmnopqrstuvwxyz0123456789ABCD".chars().take(len).collect();
                text[at] = ['\n', '"', '\\', '\u{1}'][at % 4];
                text[len - 1 - at] = '\t';
                responses.push(AdmissionResponse::deny("u", text.into_iter().collect::<String>()));
            }
        }
        for response in &responses {
            for version in SUPPORTED_VERSIONS {
                let review = OutgoingReview { api_version: version, kind: "AdmissionReview", response };
                let want = serde_json::to_vec(&review).unwrap();
                let got = encode_review(version, response);
                assert_eq!(String::from_utf8(got).unwrap(), String::from_utf8(want).unwrap());
            }
        }
    }
}
