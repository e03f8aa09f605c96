//! The server's memory as the benchmark examples read it, from `/proc/<pid>/status`.

/// A line of `/proc/<pid>/status` in MiB (`VmHWM`, `VmRSS`).
pub fn status_mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the server runs");
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("a {field} line in /proc/{pid}/status"));
    kib / 1024.0
}
