//! Presentation: how results are shown to people.
