//! The streaming RIFF/WAVE writer: 16-bit PCM mono with chapter markers.
//!
//! Layout (see `shared/FORMATS.md` §1, checked with ffprobe, libsndfile, wavinfo and exiftool):
//!
//! ```text
//! RIFF <size> WAVE
//!   JUNK (28 bytes)                       room for a ds64 chunk, should the file pass 4 GiB
//!   fmt  (16 bytes, PCM)
//!   LIST INFO (INAM, ISFT, ICMT, ...)     before data: readers that stop at data still see it
//!   data <frames × 2 bytes>               streamed; its size is patched in `finish`
//!   cue  (one 24-byte point per chapter)  frame index in both dwPosition and dwSampleOffset
//!   LIST adtl (all labl first, then ltxt) FFmpeg and libsndfile stop at the first non-labl
//! ```
//!
//! Invariants: every chunk that precedes `data` has an even size (hound skips unknown chunks
//! without their pad byte); every odd-sized sub-chunk is followed by one zero pad byte that its
//! size does not count; the RIFF size equals the file length minus 8. The writer never holds
//! more than the caller's current buffer: audio is written as it arrives.
//!
//! Past 4 GiB a 32-bit RIFF size would wrap, so the file becomes RF64 (EBU Tech 3306):
//! `RIFF` becomes `RF64` with size `0xFFFFFFFF`, the reserved `JUNK` becomes `ds64` holding the
//! real 64-bit RIFF size, data size and frame count, and the `data` size becomes `0xFFFFFFFF`.
//! Cue positions stay 32-bit frame numbers (about 54 hours at 22.05 kHz); past that the writer
//! reports [`WavError::TooLarge`] rather than wrap.

use std::io::{self, Seek, SeekFrom, Write};

/// Bytes per frame: mono, 16-bit.
const BLOCK_ALIGN: u16 = 2;
/// Above this many bytes of audio the file is written as RF64: a 32-bit RIFF must leave room
/// for its other chunks.
const DEFAULT_RF64_THRESHOLD: u64 = u32::MAX as u64 - 64 * 1024 * 1024;
/// Cue points hold 32-bit frame numbers.
const MAX_FRAMES: u64 = u32::MAX as u64;

/// A four-character chunk or INFO identifier such as `INAM`.
pub type FourCc = [u8; 4];

/// One chapter as it is stored in the WAV: a cue point plus a labelled region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CueRegion {
    /// Chapter title; stored as UTF-8 in a `labl` sub-chunk.
    pub title: String,
    /// First frame of the chapter.
    pub start: u64,
    /// Length in frames; stored in an `ltxt` sub-chunk with purpose `rgn `.
    pub length: u64,
}

/// What can go wrong while writing a WAV.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WavError {
    /// The underlying file could not be written.
    #[error("could not write the WAV file: {0}")]
    Io(#[from] io::Error),
    /// The audio is longer than chapter markers can address.
    #[error(
        "the audio is too long for WAV chapter markers ({frames} frames, over 2^32); split the article or use a lower sample rate"
    )]
    TooLarge {
        /// Frames the article had reached.
        frames: u64,
    },
    /// A chapter lies outside the audio or cannot be stored in 32 bits.
    #[error("chapter {index} ({start}+{length} frames) lies outside the {frames} frames of audio")]
    ChapterOutOfRange {
        /// 0-based chapter index.
        index: usize,
        /// Its first frame.
        start: u64,
        /// Its length in frames.
        length: u64,
        /// Frames of audio written.
        frames: u64,
    },
}

/// Streams 16-bit mono PCM into a RIFF/WAVE file and appends chapter chunks on `finish`.
pub struct WavWriter<W: Write + Seek> {
    out: W,
    /// File offset of the `RIFF` id (the sink may already hold bytes before it).
    riff_start: u64,
    /// File offset of the `data` chunk's size field.
    data_size_at: u64,
    frames: u64,
    rf64_threshold: u64,
    scratch: Vec<u8>,
}

impl<W: Write + Seek> WavWriter<W> {
    /// Writes the header, `fmt `, `LIST/INFO` (entries with empty values are skipped) and the
    /// start of `data`.
    pub fn new(mut out: W, sample_rate: u32, info: &[(FourCc, &str)]) -> Result<Self, WavError> {
        let start = out.stream_position()?;
        let mut head = Vec::with_capacity(256);
        head.extend_from_slice(b"RIFF");
        head.extend_from_slice(&0u32.to_le_bytes()); // patched in finish
        head.extend_from_slice(b"WAVE");
        // Reserved for ds64 (EBU Tech 3306), used only if the file passes 4 GiB.
        head.extend_from_slice(b"JUNK");
        head.extend_from_slice(&28u32.to_le_bytes());
        head.extend_from_slice(&[0u8; 28]);

        head.extend_from_slice(b"fmt ");
        head.extend_from_slice(&16u32.to_le_bytes());
        head.extend_from_slice(&1u16.to_le_bytes()); // PCM
        head.extend_from_slice(&1u16.to_le_bytes()); // mono
        head.extend_from_slice(&sample_rate.to_le_bytes());
        head.extend_from_slice(&(sample_rate * u32::from(BLOCK_ALIGN)).to_le_bytes());
        head.extend_from_slice(&BLOCK_ALIGN.to_le_bytes());
        head.extend_from_slice(&16u16.to_le_bytes());

        let entries: Vec<_> = info.iter().filter(|(_, v)| !v.is_empty()).collect();
        if !entries.is_empty() {
            let mut list = Vec::new();
            list.extend_from_slice(b"INFO");
            for (id, value) in entries {
                push_zstr_chunk(&mut list, id, None, value);
            }
            push_chunk(&mut head, b"LIST", &list);
        }

        head.extend_from_slice(b"data");
        let data_size_at = start + head.len() as u64;
        head.extend_from_slice(&0u32.to_le_bytes()); // patched in finish
        out.write_all(&head)?;
        Ok(WavWriter {
            out,
            riff_start: start,
            data_size_at,
            frames: 0,
            rf64_threshold: DEFAULT_RF64_THRESHOLD,
            scratch: Vec::new(),
        })
    }

    /// Switches to RF64 above `bytes` of audio instead of about 4 GiB, so tests can write an
    /// RF64 file without writing 4 GiB.
    pub fn with_rf64_threshold(mut self, bytes: u64) -> Self {
        self.rf64_threshold = bytes.min(DEFAULT_RF64_THRESHOLD);
        self
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Where the first sample lies in the sink: the `data` payload is `frames × 2` bytes from
    /// here, so a finished file's samples can be rewritten in place.
    pub fn data_offset(&self) -> u64 {
        self.data_size_at + 4
    }

    /// Appends samples (one per frame).
    pub fn write_samples(&mut self, samples: &[i16]) -> Result<(), WavError> {
        self.write_samples_and(samples, |_| {})
    }

    /// Appends samples and shows `also` the bytes written, in order (to hash them without
    /// converting the samples twice).
    pub fn write_samples_and(
        &mut self,
        samples: &[i16],
        mut also: impl FnMut(&[u8]),
    ) -> Result<(), WavError> {
        self.reserve(samples.len() as u64)?;
        // Convert in bounded slices so a long unit never doubles in memory. A slice as large as
        // a `BufWriter`'s buffer (256 KiB in the pipeline) goes past it without another copy.
        for chunk in samples.chunks(128 * 1024) {
            let bytes = super::le_bytes(chunk, &mut self.scratch);
            also(bytes);
            self.out.write_all(bytes)?;
        }
        Ok(())
    }

    /// Appends `frames` frames of digital silence.
    pub fn write_silence(&mut self, frames: u64) -> Result<(), WavError> {
        self.write_silence_and(frames, |_| {})
    }

    /// Appends `frames` frames of digital silence and shows `also` the bytes written, in order.
    pub fn write_silence_and(
        &mut self,
        frames: u64,
        mut also: impl FnMut(&[u8]),
    ) -> Result<(), WavError> {
        self.reserve(frames)?;
        const ZEROS: [u8; 8192] = [0; 8192];
        let mut left = frames * u64::from(BLOCK_ALIGN);
        while left > 0 {
            let n = left.min(ZEROS.len() as u64) as usize;
            also(&ZEROS[..n]);
            self.out.write_all(&ZEROS[..n])?;
            left -= n as u64;
        }
        Ok(())
    }

    fn reserve(&mut self, frames: u64) -> Result<(), WavError> {
        let total = self.frames + frames;
        if total > MAX_FRAMES {
            return Err(WavError::TooLarge { frames: total });
        }
        self.frames = total;
        Ok(())
    }

    /// Writes `cue ` and `LIST/adtl` after the audio, patches the sizes and returns the sink.
    /// Regions must lie within the audio; an empty list writes no chapter chunks.
    pub fn finish(mut self, regions: &[CueRegion]) -> Result<W, WavError> {
        for (index, r) in regions.iter().enumerate() {
            let end = r.start.checked_add(r.length);
            if end.is_none_or(|e| e > self.frames) || r.start > u64::from(u32::MAX) {
                return Err(WavError::ChapterOutOfRange {
                    index,
                    start: r.start,
                    length: r.length,
                    frames: self.frames,
                });
            }
        }
        let data_bytes = self.frames * u64::from(BLOCK_ALIGN);
        // data_bytes is even, so no pad byte is needed after the data.
        if !regions.is_empty() {
            let mut tail = Vec::new();
            let mut cue = Vec::with_capacity(4 + 24 * regions.len());
            cue.extend_from_slice(&(regions.len() as u32).to_le_bytes());
            for (i, r) in regions.iter().enumerate() {
                let id = i as u32 + 1;
                let start = r.start as u32;
                cue.extend_from_slice(&id.to_le_bytes());
                cue.extend_from_slice(&start.to_le_bytes()); // dwPosition
                cue.extend_from_slice(b"data"); // fccChunk
                cue.extend_from_slice(&0u32.to_le_bytes()); // dwChunkStart
                cue.extend_from_slice(&0u32.to_le_bytes()); // dwBlockStart
                cue.extend_from_slice(&start.to_le_bytes()); // dwSampleOffset
            }
            push_chunk(&mut tail, b"cue ", &cue);

            let mut adtl = Vec::new();
            adtl.extend_from_slice(b"adtl");
            for (i, r) in regions.iter().enumerate() {
                push_zstr_chunk(&mut adtl, b"labl", Some(i as u32 + 1), &r.title);
            }
            for (i, r) in regions.iter().enumerate() {
                let mut ltxt = Vec::with_capacity(20);
                ltxt.extend_from_slice(&(i as u32 + 1).to_le_bytes());
                ltxt.extend_from_slice(&(r.length.min(u64::from(u32::MAX)) as u32).to_le_bytes());
                ltxt.extend_from_slice(b"rgn ");
                ltxt.extend_from_slice(&[0u8; 8]); // country, language, dialect, code page
                push_chunk(&mut adtl, b"ltxt", &ltxt);
            }
            push_chunk(&mut tail, b"LIST", &adtl);
            self.out.write_all(&tail)?;
        }
        let end = self.out.stream_position()?;
        let riff_size = end - self.riff_start - 8;
        if data_bytes > self.rf64_threshold {
            let mut ds64 = Vec::with_capacity(36);
            ds64.extend_from_slice(b"ds64");
            ds64.extend_from_slice(&28u32.to_le_bytes());
            ds64.extend_from_slice(&riff_size.to_le_bytes());
            ds64.extend_from_slice(&data_bytes.to_le_bytes());
            ds64.extend_from_slice(&self.frames.to_le_bytes());
            ds64.extend_from_slice(&0u32.to_le_bytes()); // no table
            self.out.seek(SeekFrom::Start(self.riff_start))?;
            self.out.write_all(b"RF64")?;
            self.out.write_all(&u32::MAX.to_le_bytes())?;
            self.out.seek(SeekFrom::Start(self.riff_start + 12))?;
            self.out.write_all(&ds64)?;
            self.out.seek(SeekFrom::Start(self.data_size_at))?;
            self.out.write_all(&u32::MAX.to_le_bytes())?;
        } else {
            self.out.seek(SeekFrom::Start(self.riff_start + 4))?;
            self.out.write_all(&(riff_size as u32).to_le_bytes())?;
            self.out.seek(SeekFrom::Start(self.data_size_at))?;
            self.out.write_all(&(data_bytes as u32).to_le_bytes())?;
        }
        self.out.seek(SeekFrom::Start(end))?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Appends one chunk (id, size, payload, pad byte when the payload is odd).
fn push_chunk(buf: &mut Vec<u8>, id: &FourCc, payload: &[u8]) {
    buf.extend_from_slice(id);
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(payload);
    if payload.len() % 2 == 1 {
        buf.push(0);
    }
}

/// Appends a chunk holding an optional cue id and a NUL-terminated UTF-8 string.
fn push_zstr_chunk(buf: &mut Vec<u8>, id: &FourCc, cue_id: Option<u32>, text: &str) {
    let mut payload = Vec::with_capacity(text.len() + 5);
    if let Some(cue_id) = cue_id {
        payload.extend_from_slice(&cue_id.to_le_bytes());
    }
    // A NUL inside would end the string early for every reader.
    payload.extend(text.bytes().filter(|&b| b != 0));
    payload.push(0);
    push_chunk(buf, id, &payload);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::inspect::inspect;
    use proptest::prelude::*;
    use std::io::Cursor;

    fn write(
        rate: u32,
        info: &[(FourCc, &str)],
        units: &[Vec<i16>],
        regions: &[CueRegion],
    ) -> Vec<u8> {
        let mut w = WavWriter::new(Cursor::new(Vec::new()), rate, info).unwrap();
        for u in units {
            w.write_samples(u).unwrap();
        }
        w.finish(regions).unwrap().into_inner()
    }

    #[test]
    fn layout_matches_the_reference_in_formats_md() {
        let bytes = write(
            22050,
            &[(*b"INAM", "Test"), (*b"ISFT", "aloud")],
            &[vec![1, -1, 2]],
            &[
                CueRegion {
                    title: "Introduction".into(),
                    start: 0,
                    length: 2,
                },
                CueRegion {
                    title: "B".into(),
                    start: 2,
                    length: 1,
                },
            ],
        );
        let l = inspect(Cursor::new(&bytes)).unwrap();
        assert_eq!(
            l.chunk_order,
            ["JUNK", "fmt ", "LIST", "data", "cue ", "LIST"]
        );
        assert_eq!(
            (l.format_tag, l.channels, l.sample_rate, l.bits_per_sample),
            (1, 1, 22050, 16)
        );
        assert_eq!(l.frames, 3);
        assert_eq!(
            l.info,
            [
                ("INAM".to_string(), "Test".to_string()),
                ("ISFT".into(), "aloud".into())
            ]
        );
        assert_eq!(l.cues[0].title.as_deref(), Some("Introduction"));
        assert_eq!(l.cues[1].position, 2);
        assert_eq!(l.cues[1].sample_offset, 2);
        assert_eq!(l.cues[1].length, Some(1));
        // "Introduction" is 12 bytes: labl size 4 + 12 + 1 = 17, odd, so a pad byte follows.
        let at = bytes.windows(4).position(|w| w == b"labl").unwrap();
        assert_eq!(
            u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()),
            17
        );
        assert_eq!(bytes[at + 8 + 17], 0);
        assert_eq!(&bytes[at + 8 + 18..at + 8 + 22], b"labl");
    }

    #[test]
    fn past_the_threshold_the_file_becomes_rf64_with_its_chapters() {
        let mut w = WavWriter::new(Cursor::new(Vec::new()), 8000, &[(*b"INAM", "Long")])
            .unwrap()
            .with_rf64_threshold(10);
        w.write_samples(&[7; 5]).unwrap();
        let small = w.finish(&[]).unwrap().into_inner();
        assert_eq!(
            &small[0..4],
            b"RIFF",
            "exactly at the threshold it stays RIFF"
        );

        let mut w = WavWriter::new(Cursor::new(Vec::new()), 8000, &[(*b"INAM", "Long")])
            .unwrap()
            .with_rf64_threshold(10);
        w.write_samples(&[7; 6]).unwrap();
        let regions = [
            CueRegion {
                title: "A".into(),
                start: 0,
                length: 2,
            },
            CueRegion {
                title: "B".into(),
                start: 2,
                length: 4,
            },
        ];
        let bytes = w.finish(&regions).unwrap().into_inner();
        assert_eq!(&bytes[0..4], b"RF64");
        assert_eq!(&bytes[4..8], &u32::MAX.to_le_bytes());
        assert_eq!(&bytes[12..16], b"ds64");
        let l = inspect(Cursor::new(&bytes)).unwrap();
        assert_eq!(l.frames, 6);
        assert_eq!(l.cues.len(), 2);
        assert_eq!(l.cues[1].title.as_deref(), Some("B"));
        assert_eq!(l.cues[1].sample_offset, 2);
    }

    #[test]
    fn more_frames_than_cue_points_can_address_is_refused_not_wrapped() {
        /// Discards everything; seeking works.
        struct Sink(u64);
        impl Write for Sink {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0 += b.len() as u64;
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        impl Seek for Sink {
            fn seek(&mut self, _: SeekFrom) -> io::Result<u64> {
                Ok(self.0)
            }
        }
        let mut w = WavWriter::new(Sink(0), 8000, &[]).unwrap();
        w.frames = MAX_FRAMES - 1;
        w.write_samples(&[0]).unwrap();
        assert!(matches!(
            w.write_samples(&[0]),
            Err(WavError::TooLarge { .. })
        ));
    }

    #[test]
    fn chapter_past_the_audio_is_refused() {
        let mut w = WavWriter::new(Cursor::new(Vec::new()), 8000, &[]).unwrap();
        w.write_samples(&[0; 5]).unwrap();
        let err = w
            .finish(&[CueRegion {
                title: "x".into(),
                start: 3,
                length: 3,
            }])
            .unwrap_err();
        assert!(matches!(err, WavError::ChapterOutOfRange { index: 0, .. }));
    }

    #[test]
    fn nul_in_a_title_is_dropped() {
        let bytes = write(
            8000,
            &[],
            &[vec![0; 4]],
            &[CueRegion {
                title: "a\0b".into(),
                start: 0,
                length: 4,
            }],
        );
        let l = inspect(Cursor::new(&bytes)).unwrap();
        assert_eq!(l.cues[0].title.as_deref(), Some("ab"));
        assert_eq!(l.chunk_order, ["JUNK", "fmt ", "data", "cue ", "LIST"]);
    }

    proptest! {
        /// Every file the writer produces parses back, with our strict reader and with hound,
        /// to the same chapters, titles and total frames.
        #[test]
        fn every_written_file_parses_back(
            rate in prop::sample::select(vec![8000u32, 16000, 22050, 24000, 44100, 48000]),
            units in prop::collection::vec((0usize..700, any::<i16>()), 1..12),
            gap in 0u64..50,
            titles in prop::collection::vec("\\PC{0,40}", 12),
            title in "\\PC{0,30}",
        ) {
            let mut w = WavWriter::new(
                Cursor::new(Vec::new()),
                rate,
                &[(*b"INAM", title.as_str()), (*b"ISFT", "aloud test")],
            ).unwrap();
            let mut starts = Vec::new();
            for (i, (len, v)) in units.iter().enumerate() {
                if i > 0 { w.write_silence(gap).unwrap(); }
                starts.push(w.frames());
                w.write_samples(&vec![*v; *len]).unwrap();
            }
            let total = w.frames();
            let regions: Vec<CueRegion> = starts.iter().enumerate().map(|(i, &s)| CueRegion {
                title: titles[i].clone(),
                start: s,
                length: starts.get(i + 1).copied().unwrap_or(total) - s,
            }).collect();
            let bytes = w.finish(&regions).unwrap().into_inner();

            let l = inspect(Cursor::new(&bytes)).unwrap();
            prop_assert_eq!(l.frames, total);
            prop_assert_eq!(l.sample_rate, rate);
            prop_assert_eq!(l.cues.len(), regions.len());
            for (c, r) in l.cues.iter().zip(&regions) {
                prop_assert_eq!(u64::from(c.position), r.start);
                prop_assert_eq!(u64::from(c.sample_offset), r.start);
                prop_assert_eq!(c.length.map(u64::from), Some(r.length));
                prop_assert_eq!(c.title.clone(), Some(r.title.replace('\0', "")));
            }
            let expected_title = title.replace('\0', "");
            if !expected_title.is_empty() {
                prop_assert_eq!(&l.info[0].1, &expected_title);
            }

            let reader = hound::WavReader::new(Cursor::new(&bytes)).unwrap();
            prop_assert_eq!(u64::from(reader.duration()), total);
            let samples: Vec<i16> = reader.into_samples().collect::<Result<_, _>>().unwrap();
            prop_assert_eq!(samples.len() as u64, total);
        }
    }
}
