//! In-memory store (stub; being written).
