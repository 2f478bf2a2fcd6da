//! Loading scenario files (placeholder).
