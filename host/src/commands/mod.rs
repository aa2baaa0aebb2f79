//! Subcommands.

pub mod status;
