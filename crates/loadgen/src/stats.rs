//! Latency percentiles, durations and the server's peak RSS.

use std::time::Duration;

/// Latency summary in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Percentiles {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest.
    pub max: u64,
}

/// Nearest-rank percentiles of `samples` (sorted in place); zeros when empty.
pub fn percentiles(samples: &mut [u64]) -> Percentiles {
    if samples.is_empty() {
        return Percentiles::default();
    }
    samples.sort_unstable();
    let rank = |p: f64| {
        let index = ((p / 100.0) * samples.len() as f64).ceil() as usize;
        samples[index.clamp(1, samples.len()) - 1]
    };
    Percentiles { p50: rank(50.0), p90: rank(90.0), p99: rank(99.0), max: samples[samples.len() - 1] }
}

/// Formats microseconds as milliseconds with two decimals.
pub fn ms(micros: u64) -> String {
    format!("{:.2} ms", micros as f64 / 1000.0)
}

/// Parses `10s`, `500ms`, `1m` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let value: f64 = text[..split].parse().map_err(|_| format!("`{text}` is not a duration (e.g. 10s, 500ms)"))?;
    let seconds = match &text[split..] {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        _ => return Err(format!("`{text}`: unit must be ms, s or m")),
    };
    if !(0.0..=86_400.0).contains(&seconds) {
        return Err(format!("`{text}` is out of range"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// `VmHWM` (peak resident set) and `VmRSS` in KiB from the text of `/proc/PID/status`.
pub fn memory_from_status(status: &str) -> (Option<u64>, Option<u64>) {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Peak and current RSS (KiB) of process `pid`.
pub fn process_memory(pid: u32) -> Result<(Option<u64>, Option<u64>), String> {
    let path = format!("/proc/{pid}/status");
    std::fs::read_to_string(&path).map(|text| memory_from_status(&text)).map_err(|e| format!("{path}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut samples: Vec<u64> = (1..=100).rev().collect();
        assert_eq!(percentiles(&mut samples), Percentiles { p50: 50, p90: 90, p99: 99, max: 100 });
        assert_eq!(percentiles(&mut [7]), Percentiles { p50: 7, p90: 7, p99: 7, max: 7 });
        assert_eq!(percentiles(&mut []), Percentiles::default());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("10h").is_err());
    }

    #[test]
    fn reads_vm_hwm() {
        let status = "Name:\tpalisade\nVmPeak:\t  100000 kB\nVmHWM:\t   12345 kB\nVmRSS:\t   11111 kB\n";
        assert_eq!(memory_from_status(status), (Some(12345), Some(11111)));
        assert_eq!(memory_from_status("Name: x\n"), (None, None));
    }
}
