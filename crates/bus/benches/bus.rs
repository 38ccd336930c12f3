//! Benchmark `bus` (placeholder until the backends land).
fn main() {}
