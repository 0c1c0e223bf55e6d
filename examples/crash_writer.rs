//! Used by `tests/crash.rs`: appends batches to a sled store forever, printing `ACK <seq>` after
//! each commit, until it is killed.
//!
//! Usage: `crash_writer PATH SEED`. Batch sizes are random in 1..=2000 (seeded). Every event of
//! a batch is on the account `b<first seq>n<size>`, so a reader can tell whether the last batch
//! it sees is complete: its account must hold exactly `size` events, seqs `first..first+size`.

use std::io::Write;
use std::path::PathBuf;

use partner_ledger::event::{parse_instant, Account, Body, Event, StoredEvent};
use partner_ledger::store::sled_store::SledStore;
use partner_ledger::store::Store;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = PathBuf::from(args.next().ok_or("usage: crash_writer PATH SEED")?);
    let mut seed: u64 = args
        .next()
        .ok_or("usage: crash_writer PATH SEED")?
        .parse()?;
    seed |= 1;
    let store = SledStore::open(&path)?;
    let date = partner_ledger::event::parse_date("2024-01-01")?;
    let recorded_at = parse_instant("2024-01-01T00:00:00Z")?;
    let mut out = std::io::stdout().lock();
    // Opening (and recovering) is done: from here on a kill lands among the appends.
    writeln!(out, "READY {}", store.head()?.seq)?;
    out.flush()?;
    loop {
        seed = xorshift(seed);
        let size = 1 + seed % 2000;
        let head = store.head()?;
        let account = Account::parse(&format!("b{}n{size}", head.seq + 1))?;
        let mut batch = store.begin()?;
        let mut prev = head.hash;
        for i in 0..size {
            let event = Event {
                id: uuid::Uuid::new_v4(),
                account: account.clone(),
                date,
                recorded_at,
                body: Body::BusinessProfileVerified,
            };
            let sealed = StoredEvent::seal(head.seq + 1 + i, i + 1, event, prev);
            prev = sealed.hash;
            batch.push(sealed)?;
        }
        let committed = batch.commit()?;
        writeln!(out, "ACK {}", committed.seq)?;
        out.flush()?;
    }
}

fn xorshift(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}
