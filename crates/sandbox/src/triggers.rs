//! Built-in triggers that send a workload to a sandbox whatever runtime it asked for:
//! privileged containers, containers that may run as root, and images from untrusted registries.

use crate::workload::{Container, Malformed, PodSpec, opt_bool, opt_int, opt_list, opt_object};
use palisade_engine::wildcard::Wildcard;
use serde_json::Value;

/// Which trigger fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TriggerKind {
    /// A privileged container, privilege escalation or `SYS_ADMIN`.
    Privileged,
    /// A container that runs or may run as UID 0.
    RunAsRoot,
    /// An image outside the trusted registries.
    UntrustedImage,
}

impl TriggerKind {
    /// The settings spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerKind::Privileged => "privileged",
            TriggerKind::RunAsRoot => "runAsRoot",
            TriggerKind::UntrustedImage => "untrustedImage",
        }
    }
}

/// One trigger that fired, with what fired it (`container "app" is privileged`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerHit {
    /// The trigger.
    pub trigger: TriggerKind,
    /// What fired it.
    pub detail: String,
}

/// Registries whose images are trusted: host patterns (`*.corp.example`) or repository
/// prefixes (`ghcr.io/acme`), compiled once.
#[derive(Debug, Clone, Default)]
pub struct TrustedRegistries {
    hosts: Vec<Wildcard>,
    prefixes: Vec<(Wildcard, Wildcard)>,
}

impl TrustedRegistries {
    /// Compiles the entries; an error carries the index of the bad entry and what is wrong.
    pub fn compile(entries: &[String]) -> Result<Self, (usize, String)> {
        let mut out = TrustedRegistries::default();
        for (i, raw) in entries.iter().enumerate() {
            let entry = raw.trim().trim_end_matches('/').to_ascii_lowercase();
            if entry.is_empty() {
                return Err((i, "empty registry".into()));
            }
            if let Some((_, rest)) = entry.split_once("://") {
                return Err((i, format!("{raw:?}: registries are written without a scheme, e.g. {rest:?}")));
            }
            if entry.chars().any(char::is_whitespace) {
                return Err((i, format!("{raw:?} contains whitespace")));
            }
            if entry.contains('/') {
                out.prefixes.push((Wildcard::new(&entry), Wildcard::new(&format!("{entry}/*"))));
            } else {
                out.hosts.push(Wildcard::new(&entry));
            }
        }
        Ok(out)
    }

    /// Whether `image` comes from a trusted registry.
    pub fn trusts(&self, image: &str) -> bool {
        let (registry, repository) = normalize_image(image);
        self.hosts.iter().any(|h| h.matches(&registry))
            || self.prefixes.iter().any(|(exact, under)| exact.matches(&repository) || under.matches(&repository))
    }
}

/// Splits an image reference into its registry host and `registry/path` repository, applying
/// Docker's defaults (`nginx` → `docker.io`, `docker.io/library/nginx`).
pub fn normalize_image(image: &str) -> (String, String) {
    let without_digest = image.split('@').next().unwrap_or_default();
    let (first, rest) = match without_digest.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => (first.to_ascii_lowercase(), rest),
        _ => ("docker.io".to_string(), without_digest),
    };
    let registry = match first.as_str() {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_string(),
        _ => first,
    };
    // Strip a tag: a ':' after the last '/'.
    let path = match rest.rfind(':') {
        Some(colon) if !rest[colon..].contains('/') => &rest[..colon],
        _ => rest,
    };
    let path =
        if registry == "docker.io" && !path.contains('/') { format!("library/{path}") } else { path.to_string() };
    (registry.clone(), format!("{registry}/{path}"))
}

/// The triggers a policy enables.
#[derive(Debug, Clone, Default)]
pub struct Triggers {
    /// `privileged`.
    pub privileged: bool,
    /// `runAsRoot`.
    pub run_as_root: bool,
    /// `untrustedImage` with its trusted registries.
    pub untrusted_image: Option<TrustedRegistries>,
}

impl Triggers {
    /// Whether any trigger is enabled.
    pub fn any(&self) -> bool {
        self.privileged || self.run_as_root || self.untrusted_image.is_some()
    }

    /// Every hit of every enabled trigger, grouped by trigger, containers in spec order.
    pub fn evaluate(&self, pod: &PodSpec<'_>) -> Result<Vec<TriggerHit>, Malformed> {
        if !self.any() {
            return Ok(Vec::new());
        }
        let containers = pod.containers()?;
        let mut hits = Vec::new();
        if self.privileged {
            for c in &containers {
                for detail in privileged_details(pod, c)? {
                    hits.push(TriggerHit { trigger: TriggerKind::Privileged, detail });
                }
            }
        }
        if self.run_as_root && !pod.is_windows() {
            let pod_sc = pod.security_context()?;
            let pod_user = pod_sc
                .map(|sc| opt_int(sc, "runAsUser", &format!("{}.securityContext", pod.path)))
                .transpose()?
                .flatten();
            let pod_non_root = pod_sc
                .map(|sc| opt_bool(sc, "runAsNonRoot", &format!("{}.securityContext", pod.path)))
                .transpose()?
                .flatten();
            for c in &containers {
                let path = format!("{}.securityContext", pod.container_path(c));
                let sc = opt_object(c.object, "securityContext", &pod.container_path(c))?;
                let user = sc.map(|sc| opt_int(sc, "runAsUser", &path)).transpose()?.flatten().or(pod_user);
                let non_root = sc.map(|sc| opt_bool(sc, "runAsNonRoot", &path)).transpose()?.flatten().or(pod_non_root);
                let detail = match (user, non_root) {
                    (Some(0), _) => Some(format!("{} runs as root (runAsUser 0)", c.describe())),
                    (None, nr) if nr != Some(true) => {
                        Some(format!("{} may run as root (runAsNonRoot is not true)", c.describe()))
                    }
                    _ => None,
                };
                if let Some(detail) = detail {
                    hits.push(TriggerHit { trigger: TriggerKind::RunAsRoot, detail });
                }
            }
        }
        if let Some(trusted) = &self.untrusted_image {
            for c in &containers {
                let image = match c.object.get("image") {
                    None | Some(Value::Null) => continue,
                    Some(Value::String(s)) => s,
                    Some(other) => {
                        return Err(Malformed(format!(
                            "{}.image must be a string, got {other}",
                            pod.container_path(c)
                        )));
                    }
                };
                if !trusted.trusts(image) {
                    hits.push(TriggerHit {
                        trigger: TriggerKind::UntrustedImage,
                        detail: format!("{} image {image:?} is not from a trusted registry", c.describe()),
                    });
                }
            }
        }
        Ok(hits)
    }
}

fn privileged_details(pod: &PodSpec<'_>, c: &Container<'_>) -> Result<Vec<String>, Malformed> {
    let base = pod.container_path(c);
    let Some(sc) = opt_object(c.object, "securityContext", &base)? else { return Ok(Vec::new()) };
    let path = format!("{base}.securityContext");
    let mut out = Vec::new();
    if opt_bool(sc, "privileged", &path)? == Some(true) {
        out.push(format!("{} is privileged", c.describe()));
    }
    if opt_bool(sc, "allowPrivilegeEscalation", &path)? == Some(true) {
        out.push(format!("{} allows privilege escalation", c.describe()));
    }
    if let Some(caps) = opt_object(sc, "capabilities", &path)? {
        for (i, cap) in opt_list(caps, "add", &format!("{path}.capabilities"))?.iter().enumerate() {
            let cap =
                cap.as_str().ok_or_else(|| Malformed(format!("{path}.capabilities.add[{i}] must be a string")))?;
            let bare = cap.to_ascii_uppercase();
            let bare = bare.strip_prefix("CAP_").unwrap_or(&bare);
            if bare == "SYS_ADMIN" || bare == "ALL" {
                out.push(format!("{} adds capability {cap}", c.describe()));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_normalize_like_docker() {
        assert_eq!(normalize_image("nginx").1, "docker.io/library/nginx");
        assert_eq!(normalize_image("nginx:1.25").1, "docker.io/library/nginx");
        assert_eq!(normalize_image("bitnami/redis:7").1, "docker.io/bitnami/redis");
        assert_eq!(normalize_image("ghcr.io/acme/app@sha256:abc").1, "ghcr.io/acme/app");
        assert_eq!(normalize_image("localhost:5000/app:1").0, "localhost:5000");
        assert_eq!(normalize_image("index.docker.io/library/busybox").1, "docker.io/library/busybox");
    }

    #[test]
    fn trusted_registries_by_host_and_prefix() {
        let t = TrustedRegistries::compile(&["registry.k8s.io".into(), "*.corp.example".into(), "ghcr.io/acme".into()])
            .unwrap();
        assert!(t.trusts("registry.k8s.io/pause:3.9"));
        assert!(t.trusts("images.corp.example/team/app:1"));
        assert!(t.trusts("ghcr.io/acme/app:1"));
        assert!(!t.trusts("ghcr.io/acmeevil/app:1"));
        assert!(!t.trusts("ghcr.io/other/app"));
        assert!(!t.trusts("nginx"));
        assert_eq!(
            TrustedRegistries::compile(&["https://ghcr.io".into()]).unwrap_err(),
            (0, "\"https://ghcr.io\": registries are written without a scheme, e.g. \"ghcr.io\"".to_string())
        );
    }
}
