//! Placeholder: filled in by the auth work.
