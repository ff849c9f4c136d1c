//! The messages between aloud and its synthesis workers. Pure: bytes in, values out.
//!
//! Each message is one frame (see `process::Worker`: a 4-byte little-endian length, then
//! the body). A body is a tag byte and fields: integers little-endian, strings as a 4-byte
//! length and UTF-8 bytes. Nothing from the worker is trusted: decoding checks every length
//! against what is left.
//!
//! - worker → aloud, once at start: [`Hello`];
//! - aloud → worker, per unit: [`Request`];
//! - worker → aloud, per unit: [`Reply::Samples`] frames as the audio comes, each engine
//!   buffer written straight from where the engine left it ([`write_samples`]; the worker
//!   never holds a whole unit's audio, and asks the engine for buffers of about a second, so
//!   aloud reads a few large frames), then [`Reply::Done`] with the sample count and the
//!   events; or [`Reply::Error`].

use super::ffi::{Event, EventKind};

/// What a worker says when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hello {
    /// The library is loaded and initialised.
    Ready {
        /// Its version.
        version: String,
        /// Its output rate.
        sample_rate: u32,
    },
    /// The library cannot be loaded here: use the `espeak-ng` program instead.
    Unavailable(String),
    /// The library loaded but cannot work (its data files are missing, say).
    Failed(String),
}

/// One unit to speak.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// espeak-ng voice name.
    pub voice: String,
    /// Words per minute.
    pub rate: u32,
    /// Pitch, 0–99.
    pub pitch: u32,
    /// Amplitude, 0–200 (100 is the engine's normal).
    pub volume: u32,
    /// The text.
    pub text: String,
}

/// One frame of the answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// More samples (mono, 16-bit); more frames follow.
    Samples(Vec<i16>),
    /// The end: how many samples were sent in all, and the events.
    Done {
        /// The total of the samples frames.
        samples: u64,
        /// Word, sentence and end events.
        events: Vec<Event>,
    },
    /// The engine refused (an unknown voice, say); the last frame.
    Error(String),
}

const HELLO_READY: u8 = b'R';
const HELLO_UNAVAILABLE: u8 = b'U';
const HELLO_FAILED: u8 = b'F';
const REQUEST: u8 = b'S';
const REPLY_SAMPLES: u8 = b'C';
const REPLY_DONE: u8 = b'A';
const REPLY_ERROR: u8 = b'E';

impl Hello {
    /// The frame body.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        match self {
            Hello::Ready {
                version,
                sample_rate,
            } => {
                b.push(HELLO_READY);
                put_u32(&mut b, *sample_rate);
                put_str(&mut b, version);
            }
            Hello::Unavailable(why) => {
                b.push(HELLO_UNAVAILABLE);
                put_str(&mut b, why);
            }
            Hello::Failed(why) => {
                b.push(HELLO_FAILED);
                put_str(&mut b, why);
            }
        }
        b
    }

    /// Parses a frame body.
    pub fn decode(body: &[u8]) -> Result<Hello, String> {
        let mut r = Reader::new(body);
        let hello = match r.u8()? {
            HELLO_READY => Hello::Ready {
                sample_rate: r.u32()?,
                version: r.string()?,
            },
            HELLO_UNAVAILABLE => Hello::Unavailable(r.string()?),
            HELLO_FAILED => Hello::Failed(r.string()?),
            t => return Err(format!("unexpected greeting (tag {t:#04x})")),
        };
        r.end()?;
        Ok(hello)
    }
}

impl Request {
    /// The frame body.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(32 + self.voice.len() + self.text.len());
        b.push(REQUEST);
        put_str(&mut b, &self.voice);
        put_u32(&mut b, self.rate);
        put_u32(&mut b, self.pitch);
        put_u32(&mut b, self.volume);
        put_str(&mut b, &self.text);
        b
    }

    /// Parses a frame body.
    pub fn decode(body: &[u8]) -> Result<Request, String> {
        let mut r = Reader::new(body);
        if r.u8()? != REQUEST {
            return Err("not a request".into());
        }
        let req = Request {
            voice: r.string()?,
            rate: r.u32()?,
            pitch: r.u32()?,
            volume: r.u32()?,
            text: r.string()?,
        };
        r.end()?;
        Ok(req)
    }
}

/// How many bytes of a reply body [`Reply::samples_head`] needs: the tag, a padding byte and
/// the count of samples.
pub const SAMPLES_HEAD: usize = 6;

impl Reply {
    /// Reads the start of a reply body (at least its first [`SAMPLES_HEAD`] bytes, or all of
    /// a shorter one) when `rest` more bytes follow it: `Some(n)` for a [`Reply::Samples`]
    /// frame, whose rest is exactly its `n` samples (16-bit little-endian), for
    /// [`crate::audio::read_le_samples`] to read straight into the caller's memory; `None`
    /// for any other reply, to be read whole and given to [`Reply::decode`].
    pub fn samples_head(head: &[u8], rest: usize) -> Result<Option<usize>, String> {
        if head.first() != Some(&REPLY_SAMPLES) {
            return Ok(None);
        }
        let mut r = Reader::new(&head[1..]);
        if r.u8()? != 0 {
            return Err("a samples frame without its padding byte".into());
        }
        let n = r.u32()? as usize;
        let bytes = r.rest() + rest;
        if n.checked_mul(2) != Some(bytes) {
            return Err(format!(
                "a samples frame of {n} samples holds {bytes} bytes"
            ));
        }
        Ok(Some(n))
    }

    /// The frame body.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Reply::Samples(samples) => {
                let mut b = Vec::new();
                write_samples_frame(&mut b, samples).expect("writing to a Vec");
                b.split_off(4) // the body, without the frame header
            }
            Reply::Done { samples, events } => {
                let mut b = Vec::with_capacity(13 + events.len() * 33);
                b.push(REPLY_DONE);
                put_u64(&mut b, *samples);
                put_u32(&mut b, events.len() as u32);
                for e in events {
                    b.push(match e.kind {
                        EventKind::Word => 1,
                        EventKind::Sentence => 2,
                        EventKind::End => 5,
                    });
                    put_u32(&mut b, e.text_position);
                    put_u32(&mut b, e.length);
                    put_u64(&mut b, e.sample);
                    put_u64(&mut b, e.buffer.0);
                    put_u64(&mut b, e.buffer.1);
                }
                b
            }
            Reply::Error(message) => {
                let mut b = vec![REPLY_ERROR];
                put_str(&mut b, message);
                b
            }
        }
    }

    /// Appends a samples frame body's samples to `out` the way the backend reads them from
    /// the pipe: its head first, then the bytes straight into the end of `out`. `Ok(false)`,
    /// with `out` untouched, for any other reply.
    fn append_samples(body: &[u8], out: &mut Vec<i16>) -> Result<bool, String> {
        let head = &body[..body.len().min(SAMPLES_HEAD)];
        let Some(n) = Reply::samples_head(head, body.len() - head.len())? else {
            return Ok(false);
        };
        crate::audio::read_le_samples(out, n, |bytes| {
            bytes.copy_from_slice(&body[head.len()..]);
            Ok::<_, String>(())
        })?;
        Ok(true)
    }

    /// Parses a frame body.
    pub fn decode(body: &[u8]) -> Result<Reply, String> {
        let mut samples = Vec::new();
        if Reply::append_samples(body, &mut samples)? {
            return Ok(Reply::Samples(samples));
        }
        let mut r = Reader::new(body);
        let reply = match r.u8()? {
            REPLY_DONE => {
                let samples = r.u64()?;
                let n = r.u32()? as usize;
                if n > r.rest() / 33 {
                    return Err(format!("{n} events do not fit in the reply"));
                }
                let mut events = Vec::with_capacity(n);
                for _ in 0..n {
                    let kind = match r.u8()? {
                        1 => EventKind::Word,
                        2 => EventKind::Sentence,
                        5 => EventKind::End,
                        k => return Err(format!("unknown event kind {k}")),
                    };
                    events.push(Event {
                        kind,
                        text_position: r.u32()?,
                        length: r.u32()?,
                        sample: r.u64()?,
                        buffer: (r.u64()?, r.u64()?),
                    });
                }
                Reply::Done { samples, events }
            }
            REPLY_ERROR => Reply::Error(r.string()?),
            t => return Err(format!("unexpected reply (tag {t:#04x})")),
        };
        r.end()?;
        Ok(reply)
    }
}

/// Writes `samples` as [`Reply::Samples`] frames of up to [`FRAME_SAMPLES`] each, header
/// included: the header and the caller's samples go out together, the samples not copied on a
/// little-endian machine (see `audio::le_bytes`).
pub fn write_samples(w: &mut impl std::io::Write, samples: &[i16]) -> std::io::Result<()> {
    for frame in samples.chunks(FRAME_SAMPLES) {
        write_samples_frame(w, frame)?;
    }
    Ok(())
}

/// Writes one whole [`Reply::Samples`] frame (header included) for `samples`, with one
/// `write_vectored` when the writer takes it all.
fn write_samples_frame(w: &mut impl std::io::Write, samples: &[i16]) -> std::io::Result<()> {
    use std::io::IoSlice;
    let body = (SAMPLES_HEADER - 4 + samples.len() * 2) as u32;
    let mut header = [0u8; SAMPLES_HEADER];
    header[..4].copy_from_slice(&body.to_le_bytes());
    header[4] = REPLY_SAMPLES;
    header[6..].copy_from_slice(&(samples.len() as u32).to_le_bytes());
    let mut scratch = Vec::new(); // used on big-endian machines only
    let bytes = crate::audio::le_bytes(samples, &mut scratch);
    let mut slices = [IoSlice::new(&header), IoSlice::new(bytes)];
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        match w.write_vectored(rest) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut rest, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The most samples in one [`Reply::Samples`] frame: 64 KiB of audio, a pipe's default
/// capacity on Linux.
pub const FRAME_SAMPLES: usize = 32 * 1024;

/// A samples frame's header: the frame length, then the body's head (tag, a zero byte so the
/// samples are 2-aligned in the body, count).
const SAMPLES_HEADER: usize = 4 + SAMPLES_HEAD;

fn put_u32(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(b: &mut Vec<u8>, v: u64) {
    b.extend_from_slice(&v.to_le_bytes());
}

fn put_str(b: &mut Vec<u8>, s: &str) {
    put_u32(b, s.len() as u32);
    b.extend_from_slice(s.as_bytes());
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    fn rest(&self) -> usize {
        self.bytes.len()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.bytes.len() {
            return Err(format!(
                "truncated message: {n} bytes expected, {} left",
                self.bytes.len()
            ));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn string(&mut self) -> Result<String, String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| "a string is not UTF-8".to_string())
    }

    fn end(&self) -> Result<(), String> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} unexpected bytes after the message",
                self.bytes.len()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What the libespeak-ng backend does with a samples frame: its head first, then its
    /// samples read as bytes straight into the end of `out`.
    fn read_samples_directly(body: &[u8], out: &mut Vec<i16>) -> Result<(), String> {
        Reply::append_samples(body, out)?
            .then_some(())
            .ok_or_else(|| "not samples".to_string())
    }

    #[test]
    fn every_message_round_trips() {
        for h in [
            Hello::Ready {
                version: "1.51".into(),
                sample_rate: 22050,
            },
            Hello::Unavailable("cannot load it".into()),
            Hello::Failed("no data".into()),
        ] {
            assert_eq!(Hello::decode(&h.encode()).unwrap(), h);
        }
        let req = Request {
            voice: "en-us".into(),
            rate: 175,
            pitch: 50,
            volume: 100,
            text: "--help é 日本語".into(),
        };
        assert_eq!(Request::decode(&req.encode()).unwrap(), req);
        let samples = Reply::Samples(vec![0, -1, i16::MAX, i16::MIN]);
        assert_eq!(Reply::decode(&samples.encode()).unwrap(), samples);
        let mut into = vec![5];
        read_samples_directly(&samples.encode(), &mut into).unwrap();
        assert_eq!(into, [5, 0, -1, i16::MAX, i16::MIN]);
        // A samples frame whose count disagrees with its length is refused.
        let mut short = samples.encode();
        short.pop();
        assert!(Reply::samples_head(&short[..SAMPLES_HEAD], short.len() - SAMPLES_HEAD).is_err());
        assert!(Reply::decode(&short).is_err());
        // Other replies are not samples frames, however short.
        assert_eq!(Reply::samples_head(&[REPLY_DONE], 0), Ok(None));
        assert_eq!(Reply::samples_head(&[], 0), Ok(None));
        let mut framed = Vec::new();
        write_samples(&mut framed, &[0, -1, i16::MAX, i16::MIN]).unwrap();
        assert_eq!(framed[4..], samples.encode());
        let reply = Reply::Done {
            samples: 4,
            events: vec![Event {
                kind: EventKind::Word,
                text_position: 1,
                length: 5,
                sample: 3,
                buffer: (0, 4),
            }],
        };
        assert_eq!(Reply::decode(&reply.encode()).unwrap(), reply);
        let err = Reply::Error("voice does not exist".into());
        assert_eq!(Reply::decode(&err.encode()).unwrap(), err);
    }

    #[test]
    fn damaged_messages_are_errors() {
        let reply = Reply::Samples(vec![1; 10]).encode();
        assert!(Reply::decode(&reply[..reply.len() - 1]).is_err());
        let mut long = reply.clone();
        long.push(0);
        assert!(Reply::decode(&long).is_err());
        assert!(Reply::decode(b"").is_err());
        assert!(Reply::decode(b"Z").is_err());
        // A huge count cannot make the decoder allocate or read past the end.
        let mut huge = vec![REPLY_DONE];
        huge.extend_from_slice(&0u64.to_le_bytes());
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(Reply::decode(&huge).is_err());
        assert!(Hello::decode(b"R\x01").is_err());
    }

    proptest! {
        /// Whatever sizes the engine's buffers have, the frames carry the same samples in
        /// order, none holds more than FRAME_SAMPLES, and each is one write (header and samples
        /// together) when the writer takes everything it is offered.
        #[test]
        fn buffers_become_frames_one_write_each(
            pieces in prop::collection::vec(0usize..(2 * FRAME_SAMPLES + 100), 0..6),
        ) {
            struct Writes(Vec<Vec<u8>>);
            impl std::io::Write for Writes {
                fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                    self.0.push(b.to_vec());
                    Ok(b.len())
                }
                fn write_vectored(
                    &mut self,
                    bufs: &[std::io::IoSlice<'_>],
                ) -> std::io::Result<usize> {
                    self.0.push(bufs.iter().flat_map(|b| b.iter().copied()).collect());
                    Ok(bufs.iter().map(|b| b.len()).sum())
                }
                fn flush(&mut self) -> std::io::Result<()> {
                    Ok(())
                }
            }
            let mut sent = Vec::new();
            let mut writes = Writes(Vec::new());
            let mut frames = 0;
            for n in pieces {
                let piece: Vec<i16> = (0..n).map(|i| (sent.len() + i) as i16 ^ 0x5a5a).collect();
                write_samples(&mut writes, &piece).unwrap();
                sent.extend(piece);
                frames += n.div_ceil(FRAME_SAMPLES);
            }
            prop_assert_eq!(writes.0.len(), frames);
            let mut got = Vec::new();
            for frame in &writes.0 {
                let len = u32::from_le_bytes(frame[..4].try_into().unwrap()) as usize;
                prop_assert_eq!(len, frame.len() - 4);
                let before = got.len();
                prop_assert_eq!(read_samples_directly(&frame[4..], &mut got), Ok(()));
                let n = got.len() - before;
                prop_assert!(n > 0 && n <= FRAME_SAMPLES);
            }
            prop_assert_eq!(got, sent);
        }

        /// A writer that takes a few bytes at a time still gets every byte, in order.
        #[test]
        fn short_writes_are_resumed(n in 0usize..5000, step in 1usize..7) {
            struct Trickle(Vec<u8>, usize);
            impl std::io::Write for Trickle {
                fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                    let n = b.len().min(self.1);
                    self.0.extend_from_slice(&b[..n]);
                    Ok(n)
                }
                fn flush(&mut self) -> std::io::Result<()> {
                    Ok(())
                }
            }
            let samples: Vec<i16> = (0..n).map(|i| i as i16 ^ 0x1234).collect();
            let mut whole = Vec::new();
            write_samples(&mut whole, &samples).unwrap();
            let mut trickle = Trickle(Vec::new(), step);
            write_samples(&mut trickle, &samples).unwrap();
            prop_assert_eq!(trickle.0, whole);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = Reply::decode(&bytes);
            let _ = Hello::decode(&bytes);
            let _ = Request::decode(&bytes);
        }
    }
}
