//! Image reference normalisation (Kyverno's `image_normalize`) and URL classification
//! (`is_external_url`).

use std::net::IpAddr;

/// Kyverno's default registry.
const DEFAULT_REGISTRY: &str = "docker.io";

fn invalid(image: &str) -> String {
    format!(
        "bad image: {image}, defaultRegistry: {DEFAULT_REGISTRY}, enableDefaultRegistryMutation: true: invalid reference format"
    )
}

fn valid_path_component(c: &str) -> bool {
    !c.is_empty()
        && c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
        && c.as_bytes()[0].is_ascii_alphanumeric()
        && c.as_bytes()[c.len() - 1].is_ascii_alphanumeric()
}

/// `registry/path:tag` or `registry/path@digest`, with docker.io and `latest` filled in.
pub fn normalize(image: &str) -> Result<String, String> {
    let (first, _) = image.split_once('/').unwrap_or(("", image));
    let has_registry = image.contains('/') && (first.contains(['.', ':']) || first == "localhost");
    let full = if has_registry { image.to_string() } else { format!("{DEFAULT_REGISTRY}/{image}") };
    let (name, digest) = match full.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (full.as_str(), None),
    };
    let (registry, rest) = name.split_once('/').ok_or_else(|| invalid(&full))?;
    let (path, tag) = match rest.rsplit_once(':') {
        Some((p, t)) if !t.contains('/') => (p, Some(t)),
        _ => (rest, None),
    };
    if registry.is_empty() || !path.split('/').all(valid_path_component) {
        return Err(invalid(&full));
    }
    if let Some(t) = tag
        && (t.is_empty()
            || t.len() > 128
            || !t.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')))
    {
        return Err(invalid(&full));
    }
    if let Some(d) = digest {
        let valid = d.split_once(':').is_some_and(|(alg, hex)| !alg.is_empty() && hex.len() >= 32);
        if !valid {
            return Err(invalid(&full));
        }
        return Ok(format!("{registry}/{path}@{d}"));
    }
    Ok(format!("{registry}/{path}:{}", tag.unwrap_or("latest")))
}

fn internal_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_private() || v4.is_loopback() || v4.is_link_local() || v4.is_unspecified() || v4.is_broadcast()
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// Whether `url` points outside the cluster. Without DNS (engine crates do no I/O), host names are
/// classified by form: cluster-local suffixes, `localhost` and single-label names are internal.
pub fn is_external_url(url: &str) -> Result<bool, String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(inner) = host_port.strip_prefix('[') {
        inner.split(']').next().unwrap_or("")
    } else {
        host_port
            .rsplit_once(':')
            .map_or(host_port, |(h, p)| if p.bytes().all(|b| b.is_ascii_digit()) { h } else { host_port })
    };
    if host.is_empty() {
        return Err(format!("invalid URL {url:?}: missing host"));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(!internal_ip(ip));
    }
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let internal = host == "localhost"
        || !host.contains('.')
        || [".svc", ".cluster.local", ".local", ".localhost", ".internal"].iter().any(|s| host.ends_with(s));
    Ok(!internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        for (url, external) in [
            ("https://example.com/x", true),
            ("http://10.0.0.1:8080/", false),
            ("http://my-svc.my-ns.svc.cluster.local", false),
            ("http://my-svc", false),
            ("http://localhost:3000", false),
            ("https://8.8.8.8", true),
            ("http://[::1]/", false),
        ] {
            assert_eq!(is_external_url(url), Ok(external), "{url}");
        }
    }
}
