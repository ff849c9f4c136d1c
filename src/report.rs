//! Messages for the person at the terminal, all on stderr: errors, warnings and progress.
//!
//! Writing to a closed stderr is not an error worth dying for, so failures to print are
//! ignored. The progress bar is drawn only when stderr is a terminal and `-q` is not given.

use crate::audio::frames_to_ms;
use crate::pipeline::{Event, Outcome};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::time::Instant;

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

/// The progress of a conversion run: a bar on a terminal, and the per-article lines.
pub struct Progress {
    bar: Option<ProgressBar>,
    verbose: bool,
    quiet: bool,
    bytes: Vec<u64>,
    total_bytes: u64,
    started_articles: usize,
    started_bytes: u64,
    known_paragraphs: u64,
    done_paragraphs: u64,
    audio_ms: u64,
    started: Instant,
    current: String,
}

impl Progress {
    /// `bytes`: each article's source size, in run order (for estimates).
    pub fn new(bytes: &[u64], quiet: bool, verbose: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(bytes.len() as u64), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:25} {pos}/{len} articles · {msg} · ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            bar
        });
        Progress {
            bar,
            verbose,
            quiet,
            bytes: bytes.to_vec(),
            total_bytes: bytes.iter().sum(),
            started_articles: 0,
            started_bytes: 0,
            known_paragraphs: 0,
            done_paragraphs: 0,
            audio_ms: 0,
            started: Instant::now(),
            current: String::new(),
        }
    }

    /// Takes one pipeline event.
    pub fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Started { name, paragraphs } => {
                self.started_bytes += self.bytes.get(self.started_articles).copied().unwrap_or(0);
                self.started_articles += 1;
                self.known_paragraphs += paragraphs as u64;
                self.current = name.to_string();
            }
            Event::Paragraph {
                frames,
                sample_rate,
            } => {
                self.done_paragraphs += 1;
                self.audio_ms += frames_to_ms(frames, sample_rate);
            }
            Event::Finished(outcome) => {
                match outcome {
                    Outcome::Converted(c) if self.verbose => self.println(format!(
                        "converted {} -> {} ({} chapter{}, {})",
                        c.name,
                        c.audio.display(),
                        c.chapters,
                        if c.chapters == 1 { "" } else { "s" },
                        clock(frames_to_ms(c.frames, c.sample_rate))
                    )),
                    Outcome::Unchanged(c) if self.verbose => {
                        self.println(format!("up to date {} -> {}", c.name, c.audio.display()))
                    }
                    Outcome::Failed { name, error } => {
                        self.println(format!("aloud: error: {name}: {error}"))
                    }
                    _ => {}
                }
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                }
            }
        }
        self.redraw();
    }

    fn redraw(&self) {
        let Some(bar) = &self.bar else { return };
        // Paragraph totals are known only for articles already read; estimate the rest by size.
        let total = if self.started_articles >= self.bytes.len() || self.started_bytes == 0 {
            format!("{}", self.known_paragraphs)
        } else {
            format!(
                "~{}",
                self.known_paragraphs * self.total_bytes / self.started_bytes.max(1)
            )
        };
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        bar.set_message(format!(
            "{}/{} paragraphs · {:.2} h audio · {:.1} paragraphs/s · {}",
            self.done_paragraphs,
            total,
            self.audio_ms as f64 / 3_600_000.0,
            self.done_paragraphs as f64 / secs,
            self.current
        ));
    }

    fn println(&self, line: String) {
        if self.quiet && !line.starts_with("aloud: error") {
            return;
        }
        match &self.bar {
            Some(bar) => bar.suspend(|| self::line(format_args!("{line}"))),
            None => self::line(format_args!("{line}")),
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
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
