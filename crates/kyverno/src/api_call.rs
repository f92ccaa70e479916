//! Kyverno `context.apiCall` requests: `urlPath` (the API server) or `service` (an HTTPS URL with an optional
//! `caBundle` and `headers`), `method` GET or POST, and for POST a JSON body built from `data` (a list of
//! `key`/`value`, values may hold variables), as Kyverno's `pkg/engine/apicall` builds them.
//!
//! The rendered call is a [`palisade_engine::ApiCallRequest`], which the engine hands to
//! [`palisade_engine::ClusterData::api_call`]; sources that make no API calls (the CLI's files) answer `None`.

use crate::variables::{CompiledValue, Resolution, Template};
use crate::vars::Vars;
pub use palisade_engine::ApiCallRequest;
pub use palisade_engine::api_call::{Method, ServiceCall};
use serde_json::{Map, Value};

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
    fn get_url_path_renders_its_variables() {
        let vars = Vars::for_request(&request(), &EvaluationContext::default());
        let call = compile(json!({"urlPath": "/api/v1/namespaces/{{ request.namespace }}/configmaps"})).unwrap();
        let request = call.render(&vars).unwrap();
        assert_eq!(request.method, Method::Get);
        assert_eq!(request.url_path.as_deref(), Some("/api/v1/namespaces/a/configmaps"));
        assert_eq!((request.service, request.body), (None, None));
    }

    #[test]
    fn post_body_from_data_and_service() {
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
