//! The pure domain core: the calendar (R1), the catalog (R30), the rules R2–R29 as a fold of
//! one account's events into its state, and the projection of that state on a date.
//!
//! **Architecture invariant:** nothing here does I/O or reads a clock. "As of", "known at" and
//! "now" are inputs; the same fold serves append validation, `state`, `replay` and benchmarks.

pub mod calendar;
pub mod catalog;
pub mod state;
pub mod view;

pub use catalog::Catalog;
pub use state::{fold, prepare_streams, Mode, Rejection, State, StreamMap, Violation};
