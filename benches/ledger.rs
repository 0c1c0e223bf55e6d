//! The ledger benchmark: one command, medians over repeated runs, and a floor measured in the
//! same run.
//!
//! ```sh
//! cargo bench --bench ledger                          # 1,000,000 events (50,000 accounts), 3 runs
//! cargo bench --bench ledger -- --events 100000 --runs 5
//! ```
//!
//! For each run it imports the generated ledger through the real binary (`append`, validation
//! included, durable), then measures `verify`, `report`, whole-process `state`, and in-process
//! `state --as-of [--known-at]` latency (p50, p99), peak RSS of each process, and bytes on disk
//! per event. The floor is the same events stored (one sled key per event, batches of 10,000,
//! flush per batch) and scanned with bare sled + serde_json, no validation, no projection, in a
//! child process; the ledger's figures are also shown as ratios to it.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use partner_ledger::domain::Catalog;
use partner_ledger::event::{parse_date, parse_instant, Account};
use partner_ledger::ledger::Ledger;
use partner_ledger::store::sled_store::SledStore;
use partner_ledger::store::Store;

const BIN: &str = env!("CARGO_BIN_EXE_partner-ledger");

struct Options {
    events: u64,
    runs: usize,
    dir: PathBuf,
    queries: usize,
}

const USAGE: &str = "\
usage: cargo bench --bench ledger [-- OPTIONS]

  --events N    events in the generated ledger, about 20 per account (default 1000000)
  --runs N      runs; the table gives medians (default 3)
  --queries N   in-process queries, cold and again warm (default 20000)
  --dir DIR     where the ledger, the stores and the floor go (default: the system's
                temporary directory, partner-ledger-bench)
  -h, --help    this text
";

/// The bench's arguments; a bad one ends the bench with a message and the usage (exit 2),
/// before anything is generated or stored.
fn options() -> Options {
    let mut o = Options {
        events: 1_000_000,
        runs: 3,
        dir: std::env::temp_dir().join("partner-ledger-bench"),
        queries: 20_000,
    };
    let args: Vec<String> = std::env::args().collect();
    let fail = |message: String| -> ! {
        eprintln!("error: {message}\n\n{USAGE}");
        std::process::exit(2)
    };
    let number = |name: &str, value: Option<&String>, max: u64| -> u64 {
        match value.map(|v| v.parse::<u64>()) {
            Some(Ok(n)) if (1..=max).contains(&n) => n,
            Some(_) => fail(format!("{name} takes a whole number from 1 to {max}")),
            None => fail(format!("{name} needs a value")),
        }
    };
    let mut i = 1;
    while i < args.len() {
        let value = args.get(i + 1);
        match args[i].as_str() {
            // cargo passes it to every bench target.
            "--bench" => {
                i += 1;
                continue;
            }
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            "--events" => o.events = number("--events", value, 200_000_000),
            "--runs" => o.runs = number("--runs", value, 100) as usize,
            "--queries" => o.queries = number("--queries", value, 10_000_000) as usize,
            "--dir" => match value {
                Some(d) => o.dir = PathBuf::from(d),
                None => fail("--dir needs a value".into()),
            },
            "--queries-child" => {
                let n = args
                    .get(i + 2)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(o.queries);
                let seed = args.get(i + 3).and_then(|v| v.parse().ok()).unwrap_or(0);
                queries_child(Path::new(value.map_or("", |v| v.as_str())), n, seed);
                std::process::exit(0);
            }
            "--floor-child" => {
                floor_child(
                    Path::new(value.map_or("", |v| v.as_str())),
                    Path::new(args.get(i + 2).map_or("", |s| s.as_str())),
                );
                std::process::exit(0);
            }
            other => fail(format!("unknown argument {other:?}")),
        }
        i += 2;
    }
    o
}

fn main() {
    let o = options();
    std::fs::create_dir_all(&o.dir).expect("bench dir");
    let ledger_file = o.dir.join(format!("ledger-{}.jsonl", o.events));
    let accounts = (o.events / 20).max(1);
    if !ledger_file.exists() {
        eprintln!(
            "generating {accounts} accounts into {}",
            ledger_file.display()
        );
        let out = std::fs::File::create(&ledger_file).expect("create ledger file");
        let status = Command::new(BIN)
            .args(["gen", "--accounts", &accounts.to_string(), "--seed", "42"])
            .stdout(out)
            .status()
            .expect("run gen");
        assert!(status.success(), "gen failed");
    }
    let events = count_lines(&ledger_file);
    eprintln!("{events} events, {} runs", o.runs);

    let mut rows: Vec<Run> = Vec::new();
    for run in 0..o.runs {
        eprintln!("run {}", run + 1);
        rows.push(one_run(&o, &ledger_file, events, run));
    }
    print_table(&o, events, &rows);
}

#[derive(Default, Clone)]
struct Run {
    floor_import_eps: f64,
    floor_scan_eps: f64,
    floor_rss_kb: u64,
    import_eps: f64,
    import_rss_kb: u64,
    verify_eps: f64,
    report_eps: f64,
    report_rss_kb: u64,
    verify_rss_kb: u64,
    state_process_ms: f64,
    /// In-process queries with glibc's default heap, and with it on transparent huge pages.
    queries: Queries,
    queries_thp: Queries,
    query_rss_kb: u64,
    disk_bytes_per_event: f64,
}

/// What the queries child measured.
#[derive(Default, Clone)]
struct Queries {
    cold_p50_us: f64,
    cold_p99_us: f64,
    warm_p50_us: f64,
    warm_p99_us: f64,
    /// Warm p99 of queries on accounts with at most / more than 32 lines in their copy, and
    /// the share of queries on the larger ones.
    warm_p99_small_us: f64,
    warm_p99_large_us: f64,
    large_share: f64,
    rss_kb: u64,
}

/// Runs the queries child on `db`; `huge_pages`: with glibc's heap on transparent huge pages
/// (`GLIBC_TUNABLES=glibc.malloc.hugetlb=1`, a setting for a long-lived process; ignored
/// where the C library is not glibc). Returns its figures and a sample of account names.
fn run_queries(db: &Path, n: usize, run: usize, huge_pages: bool) -> (Queries, Vec<String>) {
    let mut child = Command::new(std::env::current_exe().expect("bench exe"));
    child
        .arg("--queries-child")
        .arg(db)
        .args([n.to_string(), run.to_string()]);
    if huge_pages {
        child.env("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1");
    } else {
        child.env_remove("GLIBC_TUNABLES");
    }
    let out = child.output().expect("queries child");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "queries child failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut q = Queries::default();
    let mut names = Vec::new();
    for line in text.lines() {
        let (key, value) = line.split_once('=').unwrap_or(("", ""));
        let v = value.parse::<f64>().unwrap_or(0.0);
        match key {
            "cold_p50" => q.cold_p50_us = v,
            "cold_p99" => q.cold_p99_us = v,
            "warm_p50" => q.warm_p50_us = v,
            "warm_p99" => q.warm_p99_us = v,
            "warm_p99_small" => q.warm_p99_small_us = v,
            "warm_p99_large" => q.warm_p99_large_us = v,
            "large_share" => q.large_share = v,
            "rss_kb" => q.rss_kb = v as u64,
            "name" => names.push(value.to_string()),
            _ => {}
        }
    }
    (q, names)
}

fn one_run(o: &Options, file: &Path, events: u64, run: usize) -> Run {
    let mut r = Run::default();
    // Floor: bare sled + serde_json in a child process (its memory is its own).
    let floor_db = o.dir.join(format!("floor-{run}"));
    let _ = std::fs::remove_dir_all(&floor_db);
    let exe = std::env::current_exe().expect("bench exe");
    let out = Command::new(exe)
        .args([
            "--floor-child",
            floor_db.to_str().unwrap_or(""),
            file.to_str().unwrap_or(""),
        ])
        .output()
        .expect("floor child");
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text.lines() {
        let mut it = line.split('=');
        match (it.next(), it.next().and_then(|v| v.parse::<f64>().ok())) {
            (Some("import_s"), Some(v)) => r.floor_import_eps = events as f64 / v,
            (Some("scan_s"), Some(v)) => r.floor_scan_eps = events as f64 / v,
            (Some("rss_kb"), Some(v)) => r.floor_rss_kb = v as u64,
            _ => {}
        }
    }
    let _ = std::fs::remove_dir_all(&floor_db);

    // Import through the binary.
    let db = o.dir.join(format!("store-{run}"));
    let _ = std::fs::remove_dir_all(&db);
    let (wall, rss) = timed(&db, &["append", file.to_str().unwrap_or("")]);
    r.import_eps = events as f64 / wall;
    r.import_rss_kb = rss;
    r.disk_bytes_per_event = dir_size(&db) as f64 / events as f64;

    let (wall, rss) = timed(&db, &["verify"]);
    r.verify_eps = events as f64 / wall;
    r.verify_rss_kb = rss;
    let (wall, rss) = timed(&db, &["report", "--as-of", "2025-06-30", "--format", "csv"]);
    r.report_eps = events as f64 / wall;
    r.report_rss_kb = rss;

    // In-process queries (a child process: its memory is its own), then whole-process `state`.
    // Which of the two goes first alternates by run: the second finds the store's file in the
    // page cache more often.
    let names;
    if run % 2 == 1 {
        (r.queries, names) = run_queries(&db, o.queries, run, false);
        (r.queries_thp, _) = run_queries(&db, o.queries, run, true);
    } else {
        (r.queries_thp, _) = run_queries(&db, o.queries, run, true);
        (r.queries, names) = run_queries(&db, o.queries, run, false);
    }
    let mut walls = Vec::new();
    let mut rss_max = 0;
    for (i, name) in names.iter().take(31).enumerate() {
        let date = format!("202{}-0{}-15", 2 + i % 4, 1 + i % 9);
        let started = Instant::now();
        let (_, rss) = timed(&db, &["state", name, "--as-of", &date, "--json"]);
        walls.push(started.elapsed().as_secs_f64() * 1000.0);
        rss_max = rss_max.max(rss);
    }
    r.state_process_ms = median(&mut walls);
    r.query_rss_kb = rss_max;
    let _ = std::fs::remove_dir_all(&db);
    r
}

/// Runs the binary with PARTNER_LEDGER_STATS=1; returns (its own wall seconds, peak RSS KiB).
fn timed(db: &Path, args: &[&str]) -> (f64, u64) {
    let started = Instant::now();
    let out = Command::new(BIN)
        .arg("--db")
        .arg(db)
        .args(args)
        .env("PARTNER_LEDGER_STATS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run partner-ledger");
    let outside = started.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?} failed: {err}");
    let stat = |key: &str| -> Option<u64> {
        err.lines()
            .find(|l| l.starts_with("stats:"))?
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(key))
            .and_then(|v| v.parse().ok())
    };
    let wall = stat("wall_us=").map_or(outside, |us| us as f64 / 1e6);
    (
        wall.max(outside.min(wall)),
        stat("peak_rss_kb=").unwrap_or(0),
    )
}

/// In-process `state --as-of [--known-at]` latency, in a child process, printed as
/// `key=value` lines: first `n` random queries on a freshly opened handle (`cold_*`: most
/// read sled leaves for the first time), then, after every account has been read once, `n`
/// more (`warm_*`: a long-running process such as a server), and the process's peak RSS.
fn queries_child(db: &Path, n: usize, seed: u64) {
    let store = SledStore::open(db).expect("open store");
    let ledger = Ledger::new(&store, Catalog::default_catalog());
    let accounts: Vec<Account> = store.accounts().expect("accounts");
    let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut measure = |n: usize, sizes: &[usize]| {
        let mut lat = Vec::with_capacity(n);
        // Latencies of queries on accounts whose copy holds more than LARGE lines, and fewer.
        let (mut large, mut small) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let pick = (next() % accounts.len() as u64) as usize;
            let account = &accounts[pick];
            let year = 2022 + next() % 4;
            let date = parse_date(&format!(
                "{year}-{:02}-{:02}",
                1 + next() % 12,
                1 + next() % 28
            ))
            .expect("date");
            let known_at = (next() % 2 == 0).then(|| {
                let text = format!("{}-{:02}-01T00:00:00Z", 2022 + next() % 5, 1 + next() % 12);
                (parse_instant(&text).expect("instant"), text)
            });
            let started = Instant::now();
            let view = ledger.state(account, date, known_at).expect("state");
            let us = started.elapsed().as_secs_f64() * 1e6;
            lat.push(us);
            if let Some(&size) = sizes.get(pick) {
                if size > LARGE { &mut large } else { &mut small }.push(us);
            }
            std::hint::black_box(view);
        }
        let p99 = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v.get(((v.len().max(1) - 1) as f64 * 0.99) as usize)
                .copied()
                .unwrap_or(0.0)
        };
        let share = large.len() as f64 / n.max(1) as f64;
        let by_size = (p99(&mut small), p99(&mut large), share);
        lat.sort_by(f64::total_cmp);
        let p = |q: f64| lat[((lat.len() as f64 - 1.0) * q) as usize];
        (p(0.5), p(0.99), by_size)
    };
    /// Lines in an account's copy above which it counts as large (the generated ledger's
    /// median is ~20).
    const LARGE: usize = 32;
    let (cold_p50, cold_p99, _) = measure(n, &[]);
    let today = parse_date("2025-06-30").expect("date");
    for account in &accounts {
        std::hint::black_box(ledger.state(account, today, None).expect("state"));
    }
    // Untimed: how many lines each account's copy holds, to split the warm latencies by it.
    let sizes: Vec<usize> = accounts
        .iter()
        .map(|a| store.account_events(a).map_or(0, |e| e.len()))
        .collect();
    let (warm_p50, warm_p99, (small_p99, large_p99, large_share)) = measure(n, &sizes);
    println!("cold_p50={cold_p50}\ncold_p99={cold_p99}");
    println!("warm_p50={warm_p50}\nwarm_p99={warm_p99}");
    println!("warm_p99_small={small_p99}\nwarm_p99_large={large_p99}\nlarge_share={large_share}");
    println!("rss_kb={}", partner_ledger::cli::peak_rss_kb().unwrap_or(0));
    for account in accounts.iter().step_by((accounts.len() / 40).max(1)) {
        println!("name={account}");
    }
}

/// The floor: one sled key per event (seq big-endian → the line re-serialised by serde_json),
/// a batch and a flush every 10,000 events; then a full scan that parses every value.
fn floor_child(db: &Path, file: &Path) {
    let started = Instant::now();
    let sled = sled::Config::new()
        .path(db)
        .cache_capacity(256 << 20)
        .open()
        .expect("open floor sled");
    let tree = sled.open_tree("events").expect("tree");
    let reader = BufReader::with_capacity(1 << 16, std::fs::File::open(file).expect("open file"));
    let mut batch = sled::Batch::default();
    let mut seq: u64 = 0;
    for line in reader.lines() {
        let line = line.expect("read");
        let value: serde_json::Value = serde_json::from_str(&line).expect("json");
        seq += 1;
        batch.insert(
            &seq.to_be_bytes(),
            serde_json::to_vec(&value).expect("encode"),
        );
        if seq.is_multiple_of(10_000) {
            tree.apply_batch(std::mem::take(&mut batch)).expect("batch");
            sled.flush().expect("flush");
        }
    }
    tree.apply_batch(batch).expect("batch");
    sled.flush().expect("flush");
    let import_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut n = 0u64;
    for kv in tree.iter() {
        let (_, v) = kv.expect("scan");
        let value: serde_json::Value = serde_json::from_slice(&v).expect("json");
        std::hint::black_box(value);
        n += 1;
    }
    let scan_s = started.elapsed().as_secs_f64();
    assert_eq!(n, seq);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "import_s={import_s}\nscan_s={scan_s}\nrss_kb={}",
        partner_ledger::cli::peak_rss_kb().unwrap_or(0)
    );
}

fn count_lines(p: &Path) -> u64 {
    BufReader::new(std::fs::File::open(p).expect("open"))
        .lines()
        .count() as u64
}

fn dir_size(p: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(p) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        0.0
    } else {
        v[v.len() / 2]
    }
}

fn print_table(o: &Options, events: u64, rows: &[Run]) {
    let m = |f: &dyn Fn(&Run) -> f64| median(&mut rows.iter().map(f).collect::<Vec<_>>());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "\n## partner-ledger benchmark: {events} events, medians of {} runs",
        o.runs
    );
    // glibc's heap gets huge pages only where the kernel grants them on request ("madvise") or
    // always; under "always" the two query rows measure the same thing.
    let thp = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
        .ok()
        .and_then(|t| Some(t.split('[').nth(1)?.split(']').next()?.to_string()))
        .unwrap_or_else(|| "unknown".to_string());
    println!("machine: {cpu}, {cores} cores, transparent huge pages: {thp}\n");
    println!("| measure | ledger | floor (bare sled + serde_json) | ratio |");
    println!("|---|---:|---:|---:|");
    let fi = m(&|r| r.floor_import_eps);
    let li = m(&|r| r.import_eps);
    println!(
        "| import, events/s (durable, validated) | {:.0} | {:.0} | {:.2} |",
        li,
        fi,
        li / fi
    );
    let fs = m(&|r| r.floor_scan_eps);
    let lv = m(&|r| r.verify_eps);
    println!(
        "| verify, events/s (chain + indexes) | {:.0} | {:.0} (scan) | {:.2} |",
        lv,
        fs,
        lv / fs
    );
    let lr = m(&|r| r.report_eps);
    println!(
        "| report --as-of, events folded/s | {:.0} | {:.0} (scan) | {:.2} |",
        lr,
        fs,
        lr / fs
    );
    // MB as the targets count it, 10^6 bytes (ru_maxrss counts KiB): 300 MB is 286 MiB, so
    // figures in MiB would flatter a target by 5 %.
    let mb = |kb: u64| kb as f64 * 1024.0 / 1e6;
    // A row with the ledger's figure only.
    let row = |label: &str, value: f64, decimals: usize| {
        println!("| {label} | {value:.decimals$} | | |");
    };
    type Latency = fn(&Queries) -> f64;
    let latencies: [(&str, Latency); 4] = [
        ("cold, p50", |q| q.cold_p50_us),
        ("cold, p99", |q| q.cold_p99_us),
        ("warm, p50", |q| q.warm_p50_us),
        ("warm, p99", |q| q.warm_p99_us),
    ];
    for (label, latency) in latencies {
        let value = m(&|r| latency(&r.queries));
        row(&format!("state in process, {label} µs"), value, 1);
    }
    println!(
        "| state in process, warm p99 on accounts with ≤ 32 / > 32 lines in their copy \
         ({:.1} % of queries on the larger), µs | {:.1} / {:.1} | | |",
        m(&|r| r.queries.large_share) * 100.0,
        m(&|r| r.queries.warm_p99_small_us),
        m(&|r| r.queries.warm_p99_large_us)
    );
    // The same four with the heap on huge pages, in one row.
    let on_huge_pages: Vec<String> = latencies
        .iter()
        .map(|(_, latency)| format!("{:.1}", m(&|r| latency(&r.queries_thp))))
        .collect();
    println!(
        "| state in process, heap on huge pages (GLIBC_TUNABLES=glibc.malloc.hugetlb=1): \
         cold p50 / p99, warm p50 / p99 µs | {} / {}, {} / {} | | |",
        on_huge_pages[0], on_huge_pages[1], on_huge_pages[2], on_huge_pages[3]
    );
    row(
        "state as a whole process, ms (median of 31)",
        m(&|r| r.state_process_ms),
        1,
    );
    println!(
        "| peak RSS import, MB | {:.0} | {:.0} | |",
        m(&|r| mb(r.import_rss_kb)),
        m(&|r| mb(r.floor_rss_kb))
    );
    row("peak RSS report, MB", m(&|r| mb(r.report_rss_kb)), 0);
    row("peak RSS verify, MB", m(&|r| mb(r.verify_rss_kb)), 0);
    row("peak RSS state process, MB", m(&|r| mb(r.query_rss_kb)), 0);
    row(
        "peak RSS in-process queries, warm, MB",
        m(&|r| mb(r.queries.rss_kb)),
        0,
    );
    row(
        "peak RSS in-process queries, warm, heap on huge pages, MB",
        m(&|r| mb(r.queries_thp.rss_kb)),
        0,
    );
    row("bytes on disk per event", m(&|r| r.disk_bytes_per_event), 0);
}
