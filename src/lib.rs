//! partner-ledger: an event-sourced, bitemporal ledger of partner-program memberships and
//! their benefits.
//!
//! - [`event`]: the contract's event model, strict parsing, the stored form and hash chain.
//! - [`line`]: reading a stored line's envelope without decoding it (verify, fast reads).
//! - [`data`]: reading a stored line's `data` by position (serde reads what it does not).
//! - [`domain`]: the pure core: calendar, catalog, the rules R1–R30 and the fold into state.
//! - [`store`]: where sealed events live (sled on disk, or memory).
//! - [`ledger`]: the append pipeline (identity, idempotency, concurrency, validation, sealing)
//!   and the queries, on top of a store.
#![deny(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod cli;
pub mod data;
pub mod domain;
pub mod event;
pub mod gen;
pub mod input;
pub mod ledger;
pub mod line;
pub mod queries;
pub mod render;
pub mod report;
pub mod store;
