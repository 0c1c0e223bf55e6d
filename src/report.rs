//! report (being written).
use crate::cli::{Exit, ReportFormat};
use crate::event::Date;
use crate::ledger::Ledger;

pub fn report(_l: &Ledger<'_>, _a: Date, _f: ReportFormat) -> Result<(), Exit> {
    Err(Exit { code: 2, message: Some("report is not implemented yet".into()) })
}
