//! Messages for the person at the terminal, all on stderr: errors, warnings and progress.
//!
//! Writing to a closed stderr is not an error worth dying for, so failures to print are
//! ignored.

use std::io::Write;

/// `aloud: error: MESSAGE`
pub fn error(message: impl std::fmt::Display) {
    line(format_args!("aloud: error: {message}"));
}

/// `aloud: warning: MESSAGE`
pub fn warning(message: impl std::fmt::Display) {
    line(format_args!("aloud: warning: {message}"));
}

/// A plain line.
pub fn line(message: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "{message}");
}

/// `H:MM:SS` or `M:SS` for a duration in milliseconds.
pub fn clock(ms: u64) -> String {
    let s = ms / 1000;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn clock_formats() {
        assert_eq!(super::clock(59_999), "0:59");
        assert_eq!(super::clock(3_723_000), "1:02:03");
    }
}
