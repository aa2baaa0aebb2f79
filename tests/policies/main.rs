//! Policies as components: loading and version checks, the sandbox's
//! limits, the example site policies and the policy guide's walkthrough.
//! One test binary for all of them.

#[path = "../support/mod.rs"]
mod support;

mod clusters;
mod examples;
mod guide;
mod loading;
mod sandbox;
