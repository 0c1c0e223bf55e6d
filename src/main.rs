//! The `partner-ledger` binary: parse arguments, run the command, map errors to exit codes.

use clap::Parser;

fn main() {
    let started = std::time::Instant::now();
    let cli = partner_ledger::cli::Cli::parse();
    let result = partner_ledger::cli::run(cli);
    // For benchmarks: PARTNER_LEDGER_STATS=1 reports wall time and peak memory on stderr.
    if std::env::var_os("PARTNER_LEDGER_STATS").is_some() {
        eprintln!(
            "stats: wall_us={} peak_rss_kb={}",
            started.elapsed().as_micros(),
            partner_ledger::cli::peak_rss_kb().unwrap_or(0)
        );
    }
    if let Err(exit) = result {
        if let Some(message) = exit.message {
            eprintln!("error: {message}");
        }
        std::process::exit(exit.code);
    }
}
