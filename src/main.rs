//! The `partner-ledger` binary: parse arguments, run the command, map errors to exit codes.

use clap::Parser;

fn main() {
    let cli = partner_ledger::cli::Cli::parse();
    if let Err(exit) = partner_ledger::cli::run(cli) {
        if let Some(message) = exit.message {
            eprintln!("error: {message}");
        }
        std::process::exit(exit.code);
    }
}
