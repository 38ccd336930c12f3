//! Placeholder: filled in by the relay work.
