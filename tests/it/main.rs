//! The integration tests: one binary, driving the real CLI and the library.
//!
//! Tests that need an outside program (espeak-ng, ffmpeg, ffprobe, sndfile-info, cueprint,
//! chromium) call
//! [`support::require`]: where the program is missing they fail under `CI=true` and print a
//! loud SKIPPED line elsewhere. `.ci/run` installs all of them.

mod bad_inputs;
mod batch;
mod browser;
mod cli;
mod conformance;
mod engines;
mod faults;
mod formats;
mod hardening;
mod html_corpus;
mod http_server;
mod pages;
mod publish;
mod readers;
mod support;
mod timings;
mod tts_server;
mod voices;
mod webdriver;
