//! Kyverno `context.apiCall` requests: `urlPath` (the API server) or `service` (an HTTPS URL with an optional
//! `caBundle` and `headers`), `method` GET or POST, and for POST a JSON body built from `data` (a list of
//! `key`/`value`, values may hold variables), as Kyverno's `pkg/engine/apicall` builds them.
//!
//! The engine reaches the cluster only through [`palisade_engine::ClusterData::api_get`], which takes one string.
//! A GET of a `urlPath` is passed as the path itself (as before); every other call is passed as
//! [`WIRE_PREFIX`] followed by the [`ApiCallRequest`] as JSON, which a cluster source decodes with
//! [`ApiCallRequest::from_wire`]. Sources that make no API calls (the CLI's files) answer `None` to both.

use crate::variables::{CompiledValue, Resolution, Template};
use crate::vars::Vars;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Prefix of an encoded [`ApiCallRequest`] passed to `ClusterData::api_get`.
pub const WIRE_PREFIX: &str = "palisade-apicall:";

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
    /// The string passed to `ClusterData::api_get`: the bare path for a GET of a `urlPath`, else the encoding.
    pub fn wire(&self) -> String {
        match (&self.url_path, self.method) {
            (Some(path), Method::Get) => path.clone(),
            _ => format!("{WIRE_PREFIX}{}", serde_json::to_string(self).unwrap_or_default()),
        }
    }

    /// Decodes what [`ApiCallRequest::wire`] produced (a bare path is a GET of that `urlPath`).
    pub fn from_wire(wire: &str) -> Result<Self, String> {
        match wire.strip_prefix(WIRE_PREFIX) {
            Some(json) => serde_json::from_str(json).map_err(|e| format!("malformed apiCall request: {e}")),
            None => Ok(Self { method: Method::Get, url_path: Some(wire.to_string()), service: None, body: None }),
        }
    }

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

/// A compiled `apiCall`: every string may hold variables.
#[derive(Debug, Clone)]
pub struct ApiCallTemplate {
    method: Method,
    url_path: Option<Template>,
    service: Option<ServiceTemplate>,
    data: Vec<(String, CompiledValue)>,
}

#[derive(Debug, Clone)]
struct ServiceTemplate {
    url: Template,
    ca_bundle: Template,
    headers: Vec<(Template, Template)>,
}

fn template(pointer: &str, text: &str) -> Result<Template, String> {
    Template::compile(text).map_err(|e| format!("apiCall.{pointer}: {e}"))
}

fn key_values(list: Option<&Value>, field: &str) -> Result<Vec<(String, Value)>, String> {
    let Some(list) = list else { return Ok(Vec::new()) };
    let items = list.as_array().ok_or_else(|| format!("apiCall.{field}: must be a list of key/value"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let key =
                item.get("key").and_then(Value::as_str).ok_or_else(|| format!("apiCall.{field}[{i}]: needs a key"))?;
            Ok((key.to_string(), item.get("value").cloned().unwrap_or(Value::Null)))
        })
        .collect()
}

impl ApiCallTemplate {
    /// Compiles an `apiCall` object: `urlPath` or `service.url` is required, `method` is GET (default) or POST.
    pub fn compile(call: &Map<String, Value>) -> Result<Self, String> {
        let method = match call.get("method").and_then(Value::as_str).unwrap_or("GET") {
            m if m.eq_ignore_ascii_case("GET") => Method::Get,
            m if m.eq_ignore_ascii_case("POST") => Method::Post,
            other => return Err(format!("apiCall.method: {other:?} is not GET or POST")),
        };
        let url_path = match call.get("urlPath").and_then(Value::as_str).filter(|p| !p.is_empty()) {
            Some(path) => Some(template("urlPath", path)?),
            None => None,
        };
        let service = match call.get("service").filter(|s| !s.is_null()) {
            Some(service) => {
                let url = service.get("url").and_then(Value::as_str).unwrap_or_default();
                if url.is_empty() {
                    return Err("apiCall.service.url: required".into());
                }
                let ca_bundle = service.get("caBundle").and_then(Value::as_str).unwrap_or_default();
                let headers = key_values(service.get("headers"), "service.headers")?
                    .into_iter()
                    .map(|(k, v)| {
                        let value = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
                        Ok((template("service.headers", &k)?, template("service.headers", &value)?))
                    })
                    .collect::<Result<_, String>>()?;
                Some(ServiceTemplate {
                    url: template("service.url", url)?,
                    ca_bundle: template("service.caBundle", ca_bundle)?,
                    headers,
                })
            }
            None => None,
        };
        if url_path.is_none() && service.is_none() {
            return Err("apiCall: needs urlPath or service".into());
        }
        let data = key_values(call.get("data"), "data")?
            .into_iter()
            .map(|(k, v)| CompiledValue::compile(&v).map(|v| (k, v)).map_err(|e| format!("apiCall.data: {e}")))
            .collect::<Result<_, _>>()?;
        Ok(Self { method, url_path, service, data })
    }

    /// Renders every variable; the POST body is `data` as an object (later keys win, as Kyverno's map).
    pub fn render(&self, data: &Vars<'_>) -> Result<ApiCallRequest, String> {
        let text = |t: &Template| -> Result<String, String> {
            match t.render(data, "/", Resolution::Strict).map_err(|e| e.to_string())? {
                Value::String(s) => Ok(s),
                other => Ok(other.to_string()),
            }
        };
        let url_path = self.url_path.as_ref().map(&text).transpose()?;
        let service = match (&url_path, &self.service) {
            (None, Some(s)) => Some(ServiceCall {
                url: text(&s.url)?,
                ca_bundle: text(&s.ca_bundle)?,
                headers: s.headers.iter().map(|(k, v)| Ok((text(k)?, text(v)?))).collect::<Result<_, String>>()?,
            }),
            _ => None,
        };
        let body = match self.method {
            Method::Get => None,
            Method::Post => {
                let mut object = Map::new();
                for (key, value) in &self.data {
                    object.insert(key.clone(), value.render(data, Resolution::Strict).map_err(|e| e.to_string())?);
                }
                Some(Value::Object(object))
            }
        };
        Ok(ApiCallRequest { method: self.method, url_path, service, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_engine::{AdmissionRequest, EvaluationContext, Operation};
    use serde_json::json;

    fn request() -> AdmissionRequest {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "a"}});
        AdmissionRequest::for_object(pod, Operation::Create)
    }

    fn compile(v: Value) -> Result<ApiCallTemplate, String> {
        ApiCallTemplate::compile(v.as_object().unwrap())
    }

    #[test]
    fn get_url_path_stays_a_bare_path_on_the_wire() {
        let vars = Vars::for_request(&request(), &EvaluationContext::default());
        let call = compile(json!({"urlPath": "/api/v1/namespaces/{{ request.namespace }}/configmaps"})).unwrap();
        let request = call.render(&vars).unwrap();
        assert_eq!(request.wire(), "/api/v1/namespaces/a/configmaps");
        assert_eq!(ApiCallRequest::from_wire(&request.wire()).unwrap(), request);
    }

    #[test]
    fn post_body_from_data_and_service_round_trip() {
        let vars = Vars::for_request(&request(), &EvaluationContext::default());
        let call = compile(json!({
            "method": "POST",
            "service": {"url": "https://checker.a.svc/v1/{{ request.namespace }}", "caBundle": "PEM",
                        "headers": [{"key": "X-Team", "value": "{{ request.namespace }}"}]},
            "data": [{"key": "name", "value": "{{ request.object.metadata.name }}"},
                     {"key": "replicas", "value": 3},
                     {"key": "labels", "value": {"ns": "{{ request.namespace }}"}}],
        }))
        .unwrap();
        let request = call.render(&vars).unwrap();
        assert_eq!(request.body, Some(json!({"name": "web", "replicas": 3, "labels": {"ns": "a"}})));
        let service = request.service.as_ref().unwrap();
        assert_eq!(service.url, "https://checker.a.svc/v1/a");
        assert_eq!(service.headers, vec![("X-Team".to_string(), "a".to_string())]);
        let wire = request.wire();
        assert!(wire.starts_with(WIRE_PREFIX));
        assert_eq!(ApiCallRequest::from_wire(&wire).unwrap(), request);
        assert_eq!(request.describe(), "POST https://checker.a.svc/v1/a");
    }

    #[test]
    fn url_path_wins_over_service_and_bad_calls_do_not_compile() {
        let vars = Vars::for_request(&request(), &EvaluationContext::default());
        let both = compile(json!({"urlPath": "/api/v1", "service": {"url": "https://x"}})).unwrap();
        assert_eq!(both.render(&vars).unwrap().service, None);
        assert!(compile(json!({"method": "PUT", "urlPath": "/api"})).is_err());
        assert!(compile(json!({"method": "GET"})).is_err());
        assert!(compile(json!({"service": {"caBundle": "x"}})).is_err());
        assert!(compile(json!({"urlPath": "/api", "data": [{"value": 1}]})).is_err());
    }
}
