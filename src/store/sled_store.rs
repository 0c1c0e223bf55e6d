//! sled store (stub; being written).
