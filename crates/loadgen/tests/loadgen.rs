//! Runs the load generator binary briefly against a real server started in this process.

use palisade_engine::PolicySet;
use palisade_server::{MetricsAddr, ServeArgs};
use std::process::Command;
use std::sync::Arc;

fn field(output: &str, name: &str) -> String {
    output
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .unwrap_or_else(|| panic!("no {name} in\n{output}"))
        .trim()
        .to_string()
}

#[test]
fn closed_and_open_loops_report_figures() {
    let dir = std::env::temp_dir().join(format!("palisade-loadgen-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let args = ServeArgs {
        addr: "127.0.0.1:0".parse().unwrap(),
        metrics_addr: MetricsAddr::Main,
        data_dir: Some(dir.clone()),
        ..ServeArgs::default()
    };
    let loader: palisade_server::PolicyLoader = Arc::new(|_: &[(String, String)]| Ok(PolicySet::new()));
    let server = runtime.block_on(palisade_server::start(&args, loader, Vec::new())).unwrap();
    let url = format!("https://127.0.0.1:{}/validate?timeout=10s", server.addr.port());
    let ca = server.generated_ca.clone().unwrap();
    let body = server.sample_review.clone().unwrap();
    let pid = std::process::id().to_string();
    let common = ["--url", &url, "--ca", ca.to_str().unwrap(), "--body", body.to_str().unwrap(), "--server-pid", &pid];

    let runs: [&[&str]; 2] = [
        &["--mode", "closed", "--connections", "4", "--duration", "300ms", "--warmup", "100ms"],
        &["--mode", "open", "--rate", "200", "--connections", "4", "--duration", "300ms", "--warmup", "100ms"],
    ];
    for extra in runs {
        let output = Command::new(env!("CARGO_BIN_EXE_palisade-loadgen")).args(common).args(extra).output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
        println!("{stdout}");
        let requests = field(&stdout, "requests:");
        let ok: u64 = requests.split_whitespace().next().unwrap().parse().unwrap();
        assert!(ok > 0, "{stdout}");
        assert!(requests.ends_with(" 0 errors"), "{stdout}");
        assert!(field(&stdout, "latency:").starts_with("p50 "), "{stdout}");
        assert!(field(&stdout, "server RSS:").starts_with("peak (VmHWM) "), "{stdout}");
        if extra.contains(&"open") {
            assert!(field(&stdout, "rate held:").contains("offered 200 req/s"), "{stdout}");
        }
    }

    // Non-loopback targets are refused.
    let output = Command::new(env!("CARGO_BIN_EXE_palisade-loadgen"))
        .args([
            "--url",
            "https://192.0.2.1:8443/validate",
            "--ca",
            ca.to_str().unwrap(),
            "--body",
            body.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("only loopback targets"));

    runtime.block_on(server.shutdown());
    std::fs::remove_dir_all(dir).unwrap();
}
