//! history, diff and upcoming (being written).
use crate::cli::Exit;
use crate::event::{Account, Date};
use crate::ledger::Ledger;

pub fn history(_l: &Ledger<'_>, _a: &Account, _f: Option<Date>, _t: Option<Date>, _j: bool) -> Result<(), Exit> {
    Err(Exit { code: 2, message: Some("history is not implemented yet".into()) })
}
pub fn diff(_l: &Ledger<'_>, _a: &Account, _f: Date, _t: Date, _j: bool) -> Result<(), Exit> {
    Err(Exit { code: 2, message: Some("diff is not implemented yet".into()) })
}
pub fn upcoming(_l: &Ledger<'_>, _a: Date, _w: u32, _j: bool) -> Result<(), Exit> {
    Err(Exit { code: 2, message: Some("upcoming is not implemented yet".into()) })
}
