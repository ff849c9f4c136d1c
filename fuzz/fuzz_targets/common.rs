//! The check shared by the article-reader targets (`plain`, `markdown`, `html`).

use aloud::text::{Format, TextOptions};
use std::path::Path;

/// Reads `data` as `format`: any bytes give an article or a clean error, never a panic, and an
/// article always has paragraphs, units that point at them, and a first chapter at 0.
pub fn check_reader(format: Format, data: &[u8]) {
    let options = TextOptions {
        format: Some(format),
        max_chars: 80,
        ..TextOptions::default()
    };
    if let Ok((article, units)) = options.read(data, Path::new("fuzz")) {
        assert!(!article.paragraphs.is_empty());
        assert!(!units.is_empty());
        assert!(units.iter().all(|u| u.paragraph < article.paragraphs.len()));
        assert!(units.iter().all(|u| u.text.chars().count() <= 80));
        assert_eq!(article.chapters[0].first_paragraph, 0);
        assert!(
            article
                .chapters
                .windows(2)
                .all(|w| w[0].first_paragraph < w[1].first_paragraph)
        );
    }
}
