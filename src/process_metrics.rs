//! The process collector's metrics that Prometheus clients export next to an application's own (OpenBao's Go client
//! does): CPU time, memory, file descriptors and start time, read from `/proc/self` on Linux. Only the names whose
//! meaning holds for any process are given. Go's runtime metrics (`go_*`, and OpenBao's `vault.runtime.*`: heap
//! objects, goroutines, GC runs and pauses) describe a garbage-collected runtime this server does not have, so no
//! analogue is invented for them; `process_network_*_bytes_total` are left out too, since Linux counts them for the
//! whole network namespace, not for the process.

use std::fmt::Write;

/// The metrics in Prometheus' text format, or nothing where `/proc/self` cannot be read.
pub fn prometheus_text() -> String {
    let mut out = String::new();
    let Some(stat) = read_stat() else {
        return out;
    };
    let ticks = rustix::param::clock_ticks_per_second().max(1) as f64;
    let page = rustix::param::page_size().max(1) as f64;
    let boot = boot_time().unwrap_or(0.0);
    family(
        &mut out,
        "process_cpu_seconds_total",
        "Total user and system CPU time spent in seconds.",
        "counter",
        (stat.utime + stat.stime) as f64 / ticks,
    );
    if let Some((soft, _)) = limit("Max open files") {
        family(
            &mut out,
            "process_max_fds",
            "Maximum number of open file descriptors.",
            "gauge",
            soft,
        );
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        family(
            &mut out,
            "process_open_fds",
            "Number of open file descriptors.",
            "gauge",
            fds.count() as f64,
        );
    }
    family(
        &mut out,
        "process_resident_memory_bytes",
        "Resident memory size in bytes.",
        "gauge",
        stat.rss_pages as f64 * page,
    );
    family(
        &mut out,
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.",
        "gauge",
        boot + stat.start_ticks as f64 / ticks,
    );
    // Not in Go's process collector (its `go_threads` is the runtime's view); Rust's `prometheus` crate names it so.
    family(
        &mut out,
        "process_threads",
        "Number of OS threads in the process.",
        "gauge",
        stat.threads as f64,
    );
    family(
        &mut out,
        "process_virtual_memory_bytes",
        "Virtual memory size in bytes.",
        "gauge",
        stat.vsize as f64,
    );
    if let Some((soft, _)) = limit("Max address space") {
        family(
            &mut out,
            "process_virtual_memory_max_bytes",
            "Maximum amount of virtual memory available in bytes.",
            "gauge",
            soft,
        );
    }
    out
}

fn family(out: &mut String, name: &str, help: &str, kind: &str, value: f64) {
    let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n");
}

struct Stat {
    utime: u64,
    stime: u64,
    start_ticks: u64,
    threads: u64,
    vsize: u64,
    rss_pages: u64,
}

/// `/proc/self/stat`: the fields after the command name (which may hold spaces and parentheses).
fn read_stat() -> Option<Stat> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): field n is fields[n - 3].
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    Some(Stat {
        utime: field(14)?,
        stime: field(15)?,
        threads: field(20)?,
        start_ticks: field(22)?,
        vsize: field(23)?,
        rss_pages: field(24)?,
    })
}

/// System boot time (Unix seconds), from `/proc/stat`.
fn boot_time() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// A soft and hard limit from `/proc/self/limits` ("unlimited" as u64::MAX, as Go's client reports it).
fn limit(name: &str) -> Option<(f64, f64)> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with(name))?;
    let mut values = line[name.len()..].split_whitespace().map(|v| match v {
        "unlimited" => Some(u64::MAX as f64),
        v => v.parse::<f64>().ok(),
    });
    Some((values.next()??, values.next()??))
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_this_process() {
        let text = super::prometheus_text();
        for name in [
            "process_cpu_seconds_total",
            "process_open_fds",
            "process_resident_memory_bytes",
            "process_start_time_seconds",
            "process_threads",
            "process_virtual_memory_bytes",
        ] {
            assert!(text.contains(&format!("# TYPE {name} ")), "{name} missing:\n{text}");
        }
        let rss: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
            .unwrap()
            .parse()
            .unwrap();
        assert!(rss > 1e6, "{rss}");
        let value = |name: &str| -> f64 {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{name} ")))
                .unwrap()
                .parse()
                .unwrap()
        };
        assert!(value("process_threads") >= 1.0);
        // Started within the last day, not at the epoch.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let start = value("process_start_time_seconds");
        assert!(start <= now + 1.0 && start > now - 86400.0, "{start} vs {now}");
    }
}
