//! Placeholder: filled in by the sync work.
