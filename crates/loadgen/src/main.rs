//! `palisade-loadgen`: sends one AdmissionReview over HTTPS keep-alive connections to a webhook on
//! loopback, in closed loop (throughput) or open loop (latency at a fixed rate), and reports requests/s,
//! p50/p90/p99/max, whether the offered rate was held, and the server's peak RSS.

mod run;
mod stats;
mod target;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use clap::Parser;
use run::{Mode, Plan, Window, WorkerReport, worker};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use target::{Connection, Target};

/// Load generator for the Palisade admission webhook (loopback targets only).
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Webhook URL, e.g. https://127.0.0.1:8443/validate (loopback only).
    #[arg(long)]
    url: String,
    /// PEM CA certificate that signed the server certificate.
    #[arg(long)]
    ca: PathBuf,
    /// File with the AdmissionReview to send.
    #[arg(long)]
    body: PathBuf,
    /// `closed`: as fast as possible; `open`: fixed `--rate`.
    #[arg(long, value_enum, default_value_t = LoopMode::Closed)]
    mode: LoopMode,
    /// Offered requests per second (open loop).
    #[arg(long, required_if_eq("mode", "open"))]
    rate: Option<f64>,
    /// Keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Measured duration, after the warm-up.
    #[arg(long, default_value = "10s", value_parser = stats::parse_duration)]
    duration: Duration,
    /// Warm-up excluded from the figures (connections are opened before it starts).
    #[arg(long, default_value = "2s", value_parser = stats::parse_duration)]
    warmup: Duration,
    /// PID of the server, to report its peak RSS (VmHWM from /proc/PID/status).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Runtime threads of the load generator [default: number of CPUs].
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum LoopMode {
    Closed,
    Open,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.connections == 0 || args.connections > 10_000 {
        bail!("--connections must be between 1 and 10000");
    }
    if args.duration.is_zero() {
        bail!("--duration must be positive");
    }
    let mode = match (args.mode, args.rate) {
        (LoopMode::Closed, _) => Mode::Closed,
        (LoopMode::Open, Some(rate)) if rate > 0.0 && rate <= 1_000_000.0 => Mode::Open(rate),
        (LoopMode::Open, _) => bail!("--rate must be between 0 and 1000000 requests per second"),
    };
    let target = Arc::new(Target::parse(&args.url)?);
    let tls = target::tls_config(&args.ca)?;
    let body = Bytes::from(std::fs::read(&args.body).with_context(|| format!("cannot read {}", args.body.display()))?);

    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(threads) = args.threads {
        runtime.worker_threads(threads.max(1));
    }
    let runtime = runtime.build().context("cannot start the async runtime")?;
    let reports = runtime.block_on(async {
        let mut opening = Vec::with_capacity(args.connections);
        for _ in 0..args.connections {
            let (target, tls) = (Arc::clone(&target), Arc::clone(&tls));
            opening.push(tokio::spawn(async move { Connection::open(&target, &tls).await }));
        }
        let mut connections = Vec::with_capacity(args.connections);
        for handle in opening {
            connections.push(handle.await.context("connection task failed")??);
        }
        // Start a little in the future so every worker begins on the same schedule.
        let origin = Instant::now() + Duration::from_millis(20);
        let window = Window { origin, measure_start: origin + args.warmup, end: origin + args.warmup + args.duration };
        let count = connections.len();
        let plan = Arc::new(Plan {
            mode,
            window,
            connections: count,
            target: (*target).clone(),
            tls: Arc::clone(&tls),
            body: body.clone(),
        });
        let mut workers = Vec::with_capacity(count);
        for (index, connection) in connections.into_iter().enumerate() {
            let plan = Arc::clone(&plan);
            workers.push(tokio::spawn(async move {
                tokio::time::sleep_until(origin.into()).await;
                worker(connection, index, plan).await
            }));
        }
        let mut reports = Vec::with_capacity(count);
        for handle in workers {
            reports.push(handle.await.context("worker task failed")?);
        }
        anyhow::Ok(reports)
    })?;
    print_report(&args, mode, reports);
    Ok(())
}

fn print_report(args: &Args, mode: Mode, reports: Vec<WorkerReport>) {
    let seconds = args.duration.as_secs_f64();
    let ok: u64 = reports.iter().map(|r| r.ok).sum();
    let errors: u64 = reports.iter().map(|r| r.errors).sum();
    let mut latencies: Vec<u64> = reports.iter().flat_map(|r| r.latencies.iter().copied()).collect();
    let p = stats::percentiles(&mut latencies);
    let throughput = ok as f64 / seconds;
    let mode_text = match mode {
        Mode::Closed => "closed loop".to_string(),
        Mode::Open(rate) => format!("open loop at {rate} req/s"),
    };
    println!("target:      {}", args.url);
    println!(
        "mode:        {mode_text}, {} connections, {:?} measured after {:?} warm-up",
        args.connections, args.duration, args.warmup
    );
    println!("requests:    {ok} ok, {errors} errors");
    if let Some(error) = reports.iter().rev().find_map(|r| r.last_error.as_deref()) {
        println!("last error:  {error}");
    }
    println!("throughput:  {throughput:.1} req/s");
    println!(
        "latency:     p50 {}, p90 {}, p99 {}, max {}",
        stats::ms(p.p50),
        stats::ms(p.p90),
        stats::ms(p.p99),
        stats::ms(p.max)
    );
    let mut held_text = String::from("-");
    if let Mode::Open(rate) = mode {
        let scheduled: u64 = reports.iter().map(|r| r.scheduled).sum();
        let unsent: u64 = reports.iter().map(|r| r.unsent).sum();
        let late: u64 = reports.iter().map(|r| r.late).sum();
        let held = unsent == 0 && errors == 0 && throughput >= 0.98 * rate;
        held_text = if held { "yes".into() } else { "NO".into() };
        println!(
            "rate held:   {held_text} (offered {rate:.0} req/s, achieved {throughput:.1} req/s; {scheduled} scheduled, \
             {unsent} never sent, {late} sent >1 ms late)"
        );
    }
    let mut rss_text = String::from("-");
    if let Some(pid) = args.server_pid {
        match stats::process_memory(pid) {
            Ok((peak, current)) => {
                let mib = |kib: Option<u64>| kib.map(|k| format!("{:.1} MiB", k as f64 / 1024.0)).unwrap_or("?".into());
                rss_text = mib(peak);
                println!("server RSS:  peak (VmHWM) {}, now {}", mib(peak), mib(current));
            }
            Err(e) => println!("server RSS:  unavailable: {e}"),
        }
    }
    println!(
        "row:         | {mode_text} | {} | {throughput:.0} | {} | {} | {} | {} | {held_text} | {rss_text} |",
        args.connections,
        stats::ms(p.p50),
        stats::ms(p.p90),
        stats::ms(p.p99),
        stats::ms(p.max)
    );
}
