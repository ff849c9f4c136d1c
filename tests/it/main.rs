//! The integration tests: one binary, driving the real CLI and the library.
//!
//! Tests that need an outside program (espeak-ng, ffprobe, sndfile-info, chromium) call
//! [`support::require`]: where the program is missing they fail under `CI=true` and print a
//! loud SKIPPED line elsewhere. `.ci/run` installs all of them.

mod batch;
mod browser;
mod cli;
mod conformance;
mod engines;
mod formats;
mod http_server;
mod pages;
mod readers;
mod support;
mod timings;
mod webdriver;
