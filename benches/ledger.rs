//! Ledger reservations per second on SQLite and PostgreSQL.

fn main() {}
