//! What the benches print: latency figures (median, p99) and the floor every write of the
//! daemon stands on, single-row SQLite commits with WAL and `synchronous=FULL` in the
//! daemon's own directory, measured in the same run.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// Prints median, p99, mean and max of `samples` after `what`; returns median and p99.
pub fn report(what: &str, mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    let mean = samples.iter().sum::<Duration>() / u32::try_from(samples.len()).unwrap_or(1);
    println!(
        "{what:<52} n={:<5} median={:>7.2} ms  p99={:>7.2} ms  mean={:>7.2} ms  max={:>7.2} ms",
        samples.len(),
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        mean.as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3,
    );
    (at(0.5), at(0.99))
}

/// The checkout bench's floor; the basket bench commits the rows a change writes instead.
#[allow(dead_code)]
/// `commits` single-row INSERT transactions of a `payload_bytes` row in a fresh database in
/// `dir` (WAL, `synchronous=FULL`, as the daemon's): each one's time, and the rate.
pub fn raw_commits(dir: &Path, commits: usize, payload_bytes: usize) -> (f64, Vec<Duration>) {
    let path = dir.join("bench-raw.sqlite3");
    let c = rusqlite::Connection::open(&path).expect("raw database");
    let mode: String = c
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .expect("WAL");
    assert!(mode.eq_ignore_ascii_case("wal"), "journal mode {mode}");
    c.execute_batch(
        "PRAGMA synchronous = FULL;
         CREATE TABLE t (id INTEGER PRIMARY KEY, payload TEXT NOT NULL) STRICT;",
    )
    .expect("schema");
    let payload = "x".repeat(payload_bytes);
    let mut samples = Vec::with_capacity(commits);
    let began = Instant::now();
    for _ in 0..commits {
        let start = Instant::now();
        c.execute_batch("BEGIN").expect("begin");
        c.execute("INSERT INTO t (payload) VALUES (?1)", [&payload])
            .expect("insert");
        c.execute_batch("COMMIT").expect("commit");
        samples.push(start.elapsed());
    }
    let rate = commits as f64 / began.elapsed().as_secs_f64();
    drop(c);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    (rate, samples)
}

/// The CPU time (user + system) each thread of process `pid` has used so far, summed by
/// thread name (`posd` for the runtime's workers, `posd-db`, `plugin-<id>`, cut to 15
/// characters by the kernel). Read from `/proc` in clock ticks of 10 ms: over hundreds of
/// changes it tells which part of the machine a change keeps busy, which latency alone
/// can't on a machine whose two cores other work shares.
#[allow(dead_code)]
pub fn cpu_by_thread(pid: u32) -> BTreeMap<String, Duration> {
    let mut used = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return used;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // "tid (comm) state ...": the name may hold spaces, the fields after it don't.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_string();
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
        let ticks: u64 = [11, 12]
            .iter()
            .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
            .sum();
        *used.entry(name).or_insert(Duration::ZERO) += Duration::from_millis(ticks * 10);
    }
    used
}

/// [`cpu_by_thread`] of process `pid` and of its plugin processes (`posd plugin-host`
/// children), whose threads are counted as `process:<name>`: what isolation moves out of
/// the daemon is still the till's CPU.
#[allow(dead_code)]
pub fn cpu_with_plugin_processes(pid: u32) -> BTreeMap<String, Duration> {
    let mut used = cpu_by_thread(pid);
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return used;
    };
    for child in entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
    {
        let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
        let parent = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
        let is_plugin = std::fs::read(format!("/proc/{child}/cmdline"))
            .is_ok_and(|c| c.split(|b| *b == 0).any(|a| a == b"plugin-host"));
        if parent == Some(pid) && is_plugin {
            for (name, time) in cpu_by_thread(child) {
                *used
                    .entry(format!("process:{name}"))
                    .or_insert(Duration::ZERO) += time;
            }
        }
    }
    used
}
