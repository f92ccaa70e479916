//! A rendered Kyverno `context.apiCall`, as the engine hands it to [`ClusterData::api_call`](crate::ClusterData::api_call):
//! a `urlPath` on the API server or an HTTPS `service`, GET or POST with a JSON body.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// HTTP method of an apiCall (Kyverno accepts GET and POST).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    /// `GET`.
    #[serde(rename = "GET")]
    Get,
    /// `POST` with a JSON body built from `data`.
    #[serde(rename = "POST")]
    Post,
}

impl Method {
    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// An HTTPS service called directly (`apiCall.service`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceCall {
    /// The URL (`https://...`).
    pub url: String,
    /// PEM CA certificates trusted for this call; empty: the system roots.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ca_bundle: String,
    /// Extra request headers, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
}

/// One rendered apiCall, ready to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiCallRequest {
    /// GET or POST.
    pub method: Method,
    /// An API server path (`/api/...`, `/apis/...`); when set, `service` is not used (as Kyverno).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_path: Option<String>,
    /// The service to call when there is no `url_path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceCall>,
    /// The POST body: `data` as a JSON object (`None` for GET).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

impl ApiCallRequest {
    /// A short description for messages (never the headers or the body): the bare path for a GET of a `urlPath`.
    pub fn describe(&self) -> String {
        match (&self.url_path, &self.service) {
            (Some(path), _) if self.method == Method::Get => path.clone(),
            (Some(path), _) => format!("{} {path}", self.method.as_str()),
            (None, Some(service)) => format!("{} {}", self.method.as_str(), service.url),
            (None, None) => format!("{} (no target)", self.method.as_str()),
        }
    }
}

thread_local! {
    /// Whether this thread waited for an answer (an apiCall sent out) since [`take_waited`] last looked.
    static WAITED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Records that the calling thread blocked waiting for an answer during an evaluation: the
/// [`ClusterData`](crate::ClusterData) source calls it, so that a server can tell an evaluation slowed by
/// waiting (whose wall-clock time counts) from one whose thread was merely preempted.
pub fn note_waited() {
    WAITED.with(|w| w.set(true));
}

/// Whether the calling thread blocked waiting for an answer since the last call; clears the mark.
pub fn take_waited() -> bool {
    WAITED.with(|w| w.replace(false))
}
