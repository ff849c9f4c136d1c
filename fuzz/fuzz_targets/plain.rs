//! Fuzzes the plain reader: any bytes give an article or a clean error, never a panic, and an
//! article always has paragraphs, units that point at them, and a first chapter at 0.
#![no_main]

#[path = "common.rs"]
mod common;

use aloud::text::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    common::check_reader(Format::Text, data);
});
