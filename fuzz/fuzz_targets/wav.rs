//! Fuzzes the WAV code: (1) arbitrary bytes through the engine-output reader and the strict
//! inspector never panic; (2) chapters and audio built from the bytes, written by the RIFF
//! writer (also as RF64), always parse back to the same chapters, titles and frames.
#![no_main]

use aloud::audio::inspect::inspect;
use aloud::audio::read::read_wav_bytes;
use aloud::audio::riff::{CueRegion, WavWriter};
use libfuzzer_sys::fuzz_target;
use std::io::Cursor;

fuzz_target!(|data: &[u8]| {
    let _ = read_wav_bytes(data);
    let _ = inspect(Cursor::new(data));

    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let rate = [8000u32, 16000, 22050, 44100, 48000][usize::from(head) % 5];
    let rf64 = head & 0x80 != 0;
    let mut w = WavWriter::new(Cursor::new(Vec::new()), rate, &[(*b"INAM", "fuzz")]).unwrap();
    if rf64 {
        w = w.with_rf64_threshold(16);
    }
    let mut regions = Vec::new();
    for chunk in rest.chunks(7).take(40) {
        let start = w.frames();
        let len = usize::from(chunk[0]) * 3 + 1;
        w.write_samples(&vec![i16::from(chunk[0]) - 128; len])
            .unwrap();
        let title = String::from_utf8_lossy(&chunk[1..]).replace('\0', "");
        regions.push(CueRegion {
            title,
            start,
            length: w.frames() - start,
        });
    }
    let total = w.frames();
    let bytes = w.finish(&regions).unwrap().into_inner();
    let layout = inspect(Cursor::new(&bytes)).expect("our own file must parse");
    assert_eq!(layout.frames, total);
    assert_eq!(layout.cues.len(), regions.len());
    for (c, r) in layout.cues.iter().zip(&regions) {
        assert_eq!(u64::from(c.sample_offset), r.start);
        assert_eq!(c.length.map(u64::from), Some(r.length));
        assert_eq!(c.title.as_deref(), Some(r.title.as_str()));
    }
});
