//! Helpers for the black-box end-to-end tests.
