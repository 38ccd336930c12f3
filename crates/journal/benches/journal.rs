//! Journal benchmarks (filled in later).
fn main() {}
