//! HTTP routing and the admission endpoints: content checks, bounded body reads, the evaluation deadline,
//! and the answer.

use crate::admission::{AdmissionOutcome, admit};
use crate::evaluate::Webhook;
use crate::metrics::{self, Metrics};
use crate::store::PolicyStore;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Settings of the request handlers.
#[derive(Debug, Clone)]
pub struct HandlerConfig {
    /// Timeout assumed when the request has no `?timeout=`.
    pub default_timeout: Duration,
    /// Share of the timeout evaluation may use.
    pub budget_fraction: f64,
    /// Time allowed to receive the body.
    pub read_timeout: Duration,
    /// Largest accepted body.
    pub max_body_bytes: usize,
    /// Whether `/metrics` is served on this (HTTPS) listener.
    pub metrics_on_main: bool,
}

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    /// The policies.
    pub store: Arc<PolicyStore>,
    /// The metrics.
    pub metrics: Arc<Metrics>,
    /// Handler settings.
    pub config: HandlerConfig,
    /// Where evaluation runs.
    pub placement: Arc<crate::admission::Placement>,
}

/// Response type of every handler.
pub type HttpResponse = Response<Full<Bytes>>;

fn text(status: StatusCode, body: impl Into<String>) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from(body.into())));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

fn error(state: &AppState, status: StatusCode, message: impl Into<String>) -> HttpResponse {
    let message = message.into();
    state.metrics.record_http_error(status.as_u16());
    tracing::warn!(status = status.as_u16(), error = %message, "bad admission request");
    text(status, format!("{message}\n"))
}

fn method_not_allowed(allow: &'static str) -> HttpResponse {
    let mut response = text(StatusCode::METHOD_NOT_ALLOWED, format!("method not allowed; use {allow}\n"));
    response.headers_mut().insert(ALLOW, HeaderValue::from_static(allow));
    response
}

/// Serves `/metrics` in the OpenMetrics text format.
pub fn metrics_response(metrics: &Metrics) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from(metrics.encode())));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(metrics::CONTENT_TYPE));
    response
}

/// The HTTPS listener's router.
pub async fn handle(state: Arc<AppState>, request: Request<Incoming>) -> Result<HttpResponse, Infallible> {
    let webhook = match request.uri().path() {
        "/validate" => Webhook::Validate,
        "/mutate" => Webhook::Mutate,
        "/healthz" | "/livez" => {
            return Ok(if request.method() == Method::GET {
                text(StatusCode::OK, "ok\n")
            } else {
                method_not_allowed("GET")
            });
        }
        "/readyz" => {
            if request.method() != Method::GET {
                return Ok(method_not_allowed("GET"));
            }
            let (ready, detail) = state.store.readiness();
            return Ok(text(if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, detail));
        }
        "/metrics" if state.config.metrics_on_main => {
            return Ok(metrics_response(&state.metrics));
        }
        path => return Ok(text(StatusCode::NOT_FOUND, format!("no endpoint {path}\n"))),
    };
    if request.method() != Method::POST {
        return Ok(method_not_allowed("POST"));
    }
    Ok(admission(&state, webhook, request).await)
}

/// The plain-HTTP metrics listener's router.
pub async fn handle_metrics(metrics: Arc<Metrics>, request: Request<Incoming>) -> Result<HttpResponse, Infallible> {
    Ok(match (request.method(), request.uri().path()) {
        (&Method::GET, "/metrics") => metrics_response(&metrics),
        (_, "/metrics") => method_not_allowed("GET"),
        (_, path) => text(StatusCode::NOT_FOUND, format!("no endpoint {path}\n")),
    })
}

fn is_json(request: &Request<Incoming>) -> bool {
    let Some(value) = request.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let media_type = value.split(';').next().unwrap_or_default().trim();
    media_type.eq_ignore_ascii_case("application/json")
}

/// The `timeout` query parameter the API server appends (`?timeout=10s`).
pub fn query_timeout(query: Option<&str>) -> Option<Duration> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == "timeout")
        .and_then(|(_, value)| crate::duration::parse_go_duration(value).ok())
        .filter(|d| !d.is_zero())
}

async fn admission(state: &AppState, webhook: Webhook, request: Request<Incoming>) -> HttpResponse {
    let start = Instant::now();
    let config = &state.config;
    if !is_json(&request) {
        return error(state, StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json");
    }
    let declared = request.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|len| len > config.max_body_bytes as u64) {
        return error(state, StatusCode::PAYLOAD_TOO_LARGE, too_large(config.max_body_bytes));
    }
    let timeout = query_timeout(request.uri().query()).unwrap_or(config.default_timeout);
    let deadline = start + timeout.mul_f64(config.budget_fraction);
    let body = Limited::new(request.into_body(), config.max_body_bytes);
    let bytes = match tokio::time::timeout(config.read_timeout, body.collect()).await {
        Err(_) => {
            let message = format!("request body not received within {:?}", config.read_timeout);
            return error(state, StatusCode::REQUEST_TIMEOUT, message);
        }
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            return error(state, StatusCode::PAYLOAD_TOO_LARGE, too_large(config.max_body_bytes));
        }
        Ok(Err(e)) => return error(state, StatusCode::BAD_REQUEST, format!("cannot read request body: {e}")),
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    match admit(state, webhook, &bytes, start, deadline).await {
        AdmissionOutcome::Answer(body) => {
            let mut response = Response::new(Full::new(Bytes::from(body)));
            response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        AdmissionOutcome::BadRequest(message) => error(state, StatusCode::BAD_REQUEST, message),
        AdmissionOutcome::NotReady => {
            error(state, StatusCode::SERVICE_UNAVAILABLE, "no policy set loaded yet; see /readyz")
        }
    }
}

fn too_large(limit: usize) -> String {
    format!("request body larger than {limit} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_query_is_parsed_and_other_parameters_ignored() {
        let cases = [
            (Some("timeout=10s"), Some(Duration::from_secs(10))),
            (Some("a=b&timeout=5s"), Some(Duration::from_secs(5))),
            (Some("timeout=0s"), None),
            (Some("timeout=soon"), None),
            (Some("other=1"), None),
            (None, None),
        ];
        for (query, want) in cases {
            assert_eq!(query_timeout(query), want, "{query:?}");
        }
    }
}
