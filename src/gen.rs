//! gen (being written).
use crate::cli::Exit;
use crate::domain::Catalog;

pub fn run(_a: u64, _s: u64, _y: u32, _c: &Catalog) -> Result<(), Exit> {
    Err(Exit { code: 2, message: Some("gen is not implemented yet".into()) })
}
