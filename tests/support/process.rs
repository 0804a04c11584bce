//! Waiting for a command a benchmark runs, as an operator runs it, and
//! reading its peak memory on the way.

use std::{
    process::{Child, ExitStatus},
    time::Duration,
};

/// Waits for `child` to end, reading its resident memory's high-water mark
/// (`VmHWM` in /proc) every 20 ms: its exit and that peak in bytes.
pub fn wait_with_peak_memory(child: &mut Child) -> (ExitStatus, u64) {
    let status = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status)
            && let Some(kb) = text.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak_kb = peak_kb.max(kb);
        }
        match child.try_wait().expect("the command is waited for") {
            Some(exit) => return (exit, peak_kb * 1024),
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}
