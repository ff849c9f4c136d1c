//! Loudness: measure a finished article, and bring it to a target.
//!
//! - [`measure`] reads a finished WAV's samples back, in pieces measured at once, for the
//!   integrated loudness as EBU R128 / ITU-R BS.1770-4 defines it (K-weighting, 400 ms blocks
//!   every 100 ms, the absolute and the relative gate; computed by the `ebur128` crate) and the
//!   true peak. [`Meter`] measures one stream of samples fed in order the same way.
//! - [`normalize`] rewrites a finished WAV's samples in place: one gain for the whole article,
//!   so that its integrated loudness hits the target, and a look-ahead true-peak limiter so
//!   that no peak between samples exceeds the ceiling. The limiter's gain is smooth (a linear
//!   5 ms attack that is complete before the peak, an exponential 60 ms release); samples are
//!   never clipped. When limiting lowers the loudness, the gain is raised and the pass
//!   simulated again (at most three times) before anything is written.
//!
//! True peak: an interval between two samples is interpolated at 7 points (8× oversampling)
//! by a 32-tap Kaiser-windowed sinc, and the largest magnitude is the peak. That is finer than
//! BS.1770's 4×, which matters at speech sample rates (22.05 kHz), where ffmpeg's meter
//! measures at 192 kHz. An interval is interpolated only when its neighbourhood could reach
//! the level of interest (a bound from the largest nearby sample and the filter's absolute
//! sum); the meter, which wants only the largest peak, also only next to the samples' own
//! peaks. So measuring costs a small fraction of a full oversampler, and the limiter, which
//! must see every interval over the ceiling, looks at every one that could be.
//!
//! Levels are in dB relative to full scale, where full scale is 32768 (as ffmpeg reads
//! 16-bit audio). Nothing here knows about articles or chapters; a gain change does not move
//! any sample, so chapter positions stay as they are.

use ebur128::{EbuR128, Mode};
use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// The limiter's peak detector: 8× oversampling, 32 taps.
type FinePeaks = PeakScan<8, 32>;
/// The meter's: the same filter, looking only next to the samples' own peaks.
type MeterPeaks = PeakScan<8, 32>;
/// Taps on each side of an interval in the limiter's detector.
const LIMITER_HALF: usize = FinePeaks::HALF;
/// Intervals whose bound is checked at once.
const BLOCK: usize = 64;
/// Full scale of 16-bit audio.
const FULL_SCALE: f64 = 32768.0;
/// Frames read or written per file operation.
const CHUNK: usize = 64 * 1024;
/// How far below the ceiling the limiter aims, for the differences between our true-peak
/// estimate and other meters (ffmpeg's resamples to 192 kHz).
const MARGIN_DB: f64 = 0.1;
/// The limiter's attack, complete before the peak.
const ATTACK_MS: f64 = 5.0;
/// The limiter's release time constant.
const RELEASE_MS: f64 = 60.0;
/// A frame counts as limited when the limiter lowers it by more than 0.1 dB.
const LIMITED: f64 = 0.988_553;

/// What a [`Meter`] found. `None` where there is nothing to measure: audio shorter than one
/// 400 ms block or silent has no integrated loudness, digital silence no peak.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Loudness {
    /// Integrated loudness in LUFS.
    pub integrated_lufs: Option<f64>,
    /// True peak in dBTP.
    pub true_peak_dbtp: Option<f64>,
}

/// What to bring an article to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    /// Integrated loudness, in LUFS (e.g. −16 for podcasts).
    pub integrated_lufs: f64,
    /// The ceiling for true peaks, in dBTP (e.g. −1).
    pub true_peak_dbtp: f64,
}

/// What [`normalize`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalized {
    /// The gain applied to the whole article, in dB.
    pub gain_db: f64,
    /// Frames the limiter lowered by more than 0.1 dB.
    pub limited_frames: u64,
    /// The audio as written.
    pub after: Loudness,
}

/// Measures integrated loudness and true peak of mono 16-bit audio, fed in order.
pub struct Meter {
    ebu: EbuR128,
    peak: TruePeak,
}

impl Meter {
    /// A meter for audio at `sample_rate`.
    pub fn new(sample_rate: u32) -> io::Result<Meter> {
        Ok(Meter {
            ebu: EbuR128::new(1, sample_rate, Mode::I).map_err(io::Error::other)?,
            peak: TruePeak::new(),
        })
    }

    /// Adds samples.
    pub fn add(&mut self, samples: &[i16]) {
        // Errors are only possible for a channel count or rate that `new` already accepted.
        let _ = self.ebu.add_frames_i16(samples);
        let mut f = Vec::with_capacity(samples.len().min(CHUNK));
        for chunk in samples.chunks(CHUNK) {
            f.clear();
            f.extend(chunk.iter().map(|&s| f32::from(s)));
            self.peak.push(&f);
        }
    }

    /// The measurement.
    pub fn finish(mut self) -> Loudness {
        let peak = self.peak.finish();
        Loudness {
            integrated_lufs: self.ebu.loudness_global().ok().filter(|l| l.is_finite()),
            true_peak_dbtp: dbtp(peak),
        }
    }
}

/// Measures the `frames` mono 16-bit samples at `data_offset` in `file`, in up to
/// `threads` pieces at once. The result is a single pass's: every piece but the first
/// re-reads the 400 ms before it, warming the loudness filters on its first 100 ms
/// (`ebur128`'s `seed_frames`) and measuring the 300 ms of overlap again, so the pieces' 400 ms
/// blocks are exactly one pass's blocks, gated together; the true-peak scan of each piece
/// sees the samples around it. Pieces are at least two minutes long, so an article of a few
/// minutes is one piece. `stop` is asked between reads.
pub fn measure(
    file: &File,
    data_offset: u64,
    frames: u64,
    sample_rate: u32,
    threads: usize,
    stop: &(dyn Fn() -> bool + Sync),
) -> io::Result<Loudness> {
    let two_minutes = 120 * u64::from(sample_rate);
    measure_in_pieces(
        file,
        data_offset,
        frames,
        sample_rate,
        threads,
        two_minutes,
        stop,
    )
}

fn measure_in_pieces(
    file: &File,
    data_offset: u64,
    frames: u64,
    sample_rate: u32,
    threads: usize,
    min_piece: u64,
    stop: &(dyn Fn() -> bool + Sync),
) -> io::Result<Loudness> {
    // ebur128 forms a block every `step` frames; pieces start on that grid.
    let step = (u64::from(sample_rate) + 5) / 10;
    let pieces = (frames / min_piece.max(1)).clamp(1, threads.max(1) as u64);
    let per_piece = (frames / pieces).div_ceil(step) * step;
    let bounds: Vec<(u64, u64)> = (0..pieces)
        .map(|i| (i * per_piece, ((i + 1) * per_piece).min(frames)))
        .filter(|(a, b)| a < b || frames == 0)
        .collect();
    let read = |from: u64, to: u64, out: &mut Vec<i16>| -> io::Result<()> {
        out.clear();
        super::read_le_samples(out, (to - from) as usize, |bytes| {
            file.read_exact_at(bytes, data_offset + from * 2)
        })
    };
    let last = bounds.len() - 1;
    let results: Vec<io::Result<(EbuR128, f32)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = bounds
            .iter()
            .enumerate()
            .map(|(i, &(start, end))| {
                scope.spawn(move || -> io::Result<(EbuR128, f32)> {
                    let mut ebu =
                        EbuR128::new(1, sample_rate, Mode::I).map_err(io::Error::other)?;
                    let mut samples = Vec::new();
                    let mut from = start;
                    let mut history = Vec::new();
                    if start > 0 {
                        let overlap = (4 * step).min(start);
                        read(start - overlap, start, &mut samples)?;
                        let seed = samples.len().min(step as usize);
                        let _ = ebu.seed_frames_i16(&samples[..seed]);
                        let _ = ebu.add_frames_i16(&samples[seed..]);
                        history.extend(samples.iter().map(|&v| f32::from(v)));
                    }
                    let mut peak = TruePeak::starting_at(start, &history);
                    // The peak scan of a piece needs a little of the next piece.
                    let peak_end = if i == last {
                        end
                    } else {
                        (end + MeterPeaks::HALF as u64).min(frames)
                    };
                    let mut f = Vec::new();
                    while from < peak_end {
                        if stop() {
                            return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
                        }
                        let to = (from + CHUNK as u64).min(peak_end);
                        read(from, to, &mut samples)?;
                        let loud = to.min(end).saturating_sub(from) as usize;
                        let _ = ebu.add_frames_i16(&samples[..loud]);
                        f.clear();
                        f.extend(samples.iter().map(|&v| f32::from(v)));
                        peak.push(&f);
                        from = to;
                    }
                    let max = if i == last { peak.finish() } else { peak.max };
                    Ok((ebu, max))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(io::Error::other("a measuring thread panicked")))
            })
            .collect()
    });
    let mut meters = Vec::with_capacity(results.len());
    let mut peak = 0f32;
    for r in results {
        let (ebu, p) = r?;
        peak = peak.max(p);
        meters.push(ebu);
    }
    Ok(Loudness {
        integrated_lufs: EbuR128::loudness_global_multiple(meters.iter())
            .ok()
            .filter(|l| l.is_finite()),
        true_peak_dbtp: dbtp(peak),
    })
}

fn dbtp(peak: f32) -> Option<f64> {
    (peak > 0.0).then(|| 20.0 * (f64::from(peak) / FULL_SCALE).log10())
}

/// Brings the `frames` mono 16-bit samples at `data_offset` in `file` to `target`, in place
/// (see the module docs). `before` is their measurement; `stop` is asked between chunks and
/// ends the work with [`io::ErrorKind::Interrupted`]. `None` when the audio has no integrated
/// loudness to correct (too short or silent); it is then left as it is.
pub fn normalize(
    file: &File,
    data_offset: u64,
    frames: u64,
    sample_rate: u32,
    before: &Loudness,
    target: &Target,
    stop: &dyn Fn() -> bool,
) -> io::Result<Option<Normalized>> {
    let Some(measured) = before.integrated_lufs else {
        return Ok(None);
    };
    let samples = Samples {
        file,
        data_offset,
        frames,
        sample_rate,
    };
    let ceiling_db = target.true_peak_dbtp - MARGIN_DB;
    let mut gain_db = target.integrated_lufs - measured;
    let limits = before
        .true_peak_dbtp
        .is_none_or(|tp| tp + gain_db > ceiling_db);
    if limits {
        for _ in 0..3 {
            let (after, _) = samples.pass(gain_db, ceiling_db, false, stop)?;
            let Some(l) = after.integrated_lufs else {
                break;
            };
            let miss = target.integrated_lufs - l;
            if miss.abs() <= 0.05 {
                break;
            }
            gain_db += miss;
        }
    }
    let (after, limited_frames) = samples.pass(gain_db, ceiling_db, true, stop)?;
    Ok(Some(Normalized {
        gain_db,
        limited_frames,
        after,
    }))
}

/// The samples of a finished WAV file.
struct Samples<'a> {
    file: &'a File,
    data_offset: u64,
    frames: u64,
    sample_rate: u32,
}

impl Samples<'_> {
    /// Runs gain and limiter over every sample; with `write`, writes the result back in place.
    /// Returns the result's loudness (only the integrated loudness when not writing) and the
    /// frames the limiter touched.
    fn pass(
        &self,
        gain_db: f64,
        ceiling_db: f64,
        write: bool,
        stop: &dyn Fn() -> bool,
    ) -> io::Result<(Loudness, u64)> {
        let gain = 10f64.powf(gain_db / 20.0) as f32;
        let ceiling = (FULL_SCALE * 10f64.powf(ceiling_db / 20.0)) as f32;
        let mut limiter = Limiter::new(ceiling, self.sample_rate);
        // Writing, the result is measured fully (the report's figures); a trial pass needs
        // only the integrated loudness, which is cheaper.
        let mut measure = if write {
            Measure::Full(Meter::new(self.sample_rate)?)
        } else {
            Measure::Integrated(
                EbuR128::new(1, self.sample_rate, Mode::I).map_err(io::Error::other)?,
            )
        };
        let mut out: Vec<i16> = Vec::with_capacity(CHUNK + 1024);
        let mut written: u64 = 0;
        let mut le_bytes = Vec::new(); // used on big-endian machines only

        let mut flush = |out: &mut Vec<i16>, written: &mut u64| -> io::Result<()> {
            match &mut measure {
                Measure::Full(meter) => {
                    let bytes = super::le_bytes(out, &mut le_bytes);
                    self.file
                        .write_all_at(bytes, self.data_offset + *written * 2)?;
                    meter.add(out);
                }
                Measure::Integrated(ebu) => {
                    let _ = ebu.add_frames_i16(out);
                }
            }
            *written += out.len() as u64;
            out.clear();
            Ok(())
        };
        let mut bytes = vec![0u8; CHUNK * 2];
        let mut input: Vec<f32> = Vec::with_capacity(CHUNK);
        let mut read: u64 = 0;
        while read < self.frames {
            if stop() {
                return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
            }
            let n = (self.frames - read).min(CHUNK as u64) as usize;
            self.file
                .read_exact_at(&mut bytes[..n * 2], self.data_offset + read * 2)?;
            read += n as u64;
            input.clear();
            input.extend(
                bytes[..n * 2]
                    .chunks_exact(2)
                    .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) * gain),
            );
            limiter.push(&input, &mut |y| out.push(quantize(y)));
            if out.len() >= CHUNK {
                flush(&mut out, &mut written)?;
            }
        }
        limiter.finish(&mut |y| out.push(quantize(y)));
        flush(&mut out, &mut written)?;
        debug_assert_eq!(written, self.frames);
        let limited = limiter.limited;
        let loudness = match measure {
            Measure::Full(meter) => meter.finish(),
            Measure::Integrated(ebu) => Loudness {
                integrated_lufs: ebu.loudness_global().ok().filter(|l| l.is_finite()),
                true_peak_dbtp: None,
            },
        };
        Ok((loudness, limited))
    }
}

/// What a pass over the samples measures.
#[allow(clippy::large_enum_variant)] // one per pass, on the stack: nothing to gain by boxing
enum Measure {
    Full(Meter),
    Integrated(EbuR128),
}

/// Rounds to the nearest 16-bit sample. The limiter keeps every value below full scale, so
/// the bound is only a guard.
fn quantize(y: f32) -> i16 {
    y.round().clamp(-32768.0, 32767.0) as i16
}

/// The interpolation filter: phase `k` of `P` gives the value at `n + k / P` from the `T`
/// samples `n - T/2 + 1 ..= n + T/2`.
struct Interpolator<const P: usize, const T: usize> {
    /// `coeffs[t][k - 1]`: tap `t` of phase `k`, laid out so that all phases are computed
    /// together (the inner loop is one 8-wide multiply-add per tap); the last lane is unused.
    coeffs: [[f32; P]; T],
    /// The largest absolute sum of a phase's coefficients: no interpolated value exceeds the
    /// largest nearby sample times this.
    bound: f32,
}

impl<const P: usize, const T: usize> Interpolator<P, T> {
    const HALF: usize = T / 2;

    fn new() -> Self {
        const BETA: f64 = 8.0;
        let i0_beta = bessel_i0(BETA);
        let half = Self::HALF;
        let mut coeffs = [[0f32; P]; T];
        let mut bound = 1.0f64;
        for k in 0..P - 1 {
            let f = (k + 1) as f64 / P as f64;
            let mut c = [0f64; T];
            for (t, slot) in c.iter_mut().enumerate() {
                // Tap t holds sample n + j, at distance f - j from the point.
                let j = t as f64 - (half as f64 - 1.0);
                let x = f - j;
                let r = x / half as f64;
                let window = bessel_i0(BETA * (1.0 - r * r).max(0.0).sqrt()) / i0_beta;
                let sinc = if x == 0.0 {
                    1.0
                } else {
                    (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
                };
                *slot = sinc * window;
            }
            let sum: f64 = c.iter().sum();
            bound = bound.max(c.iter().map(|v| v.abs()).sum::<f64>() / sum);
            for (tap, v) in coeffs.iter_mut().zip(c) {
                tap[k] = (v / sum) as f32;
            }
        }
        Interpolator {
            coeffs,
            bound: bound as f32,
        }
    }

    /// The largest magnitude on the interval whose samples are `window[T/2 - 1]` and
    /// `window[T/2]`, both included.
    fn peak(&self, window: &[f32]) -> f32 {
        let mut acc = [0f32; P];
        for (tap, &x) in self.coeffs.iter().zip(window) {
            for (a, c) in acc.iter_mut().zip(tap) {
                *a += c * x;
            }
        }
        let peak = window[Self::HALF - 1].abs().max(window[Self::HALF].abs());
        acc[..P - 1].iter().fold(peak, |m, y| m.max(y.abs()))
    }
}

fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let q = x * x / 4.0;
    for k in 1..64 {
        term *= q / (k as f64 * k as f64);
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// Walks the intervals of a stream in order and reports the peak of every interval that
/// could exceed a threshold.
struct PeakScan<const P: usize, const T: usize> {
    interp: Interpolator<P, T>,
    /// Samples from `origin` on (the stream is silent before its start).
    buf: Vec<f32>,
    origin: i64,
    /// The next interval to look at.
    next: u64,
    /// One past the last sample pushed.
    pushed: u64,
    /// Look only at intervals next to a local maximum of the samples' magnitude (see
    /// [`beside_an_extremum`]).
    near_extrema_only: bool,
}

/// Whether either end of the interval in the middle of `window` (samples `half - 1` and
/// `half`) is a local maximum of the magnitude. A waveform's peaks lie next to its samples'
/// peaks unless it has strong content near the Nyquist frequency, where every sample is one;
/// so the meter interpolates only there. A steady tone then costs two intervals per period
/// instead of every one.
fn beside_an_extremum(window: &[f32], half: usize) -> bool {
    let m = |i: usize| window[i].abs();
    let (a, b) = (half - 1, half);
    (m(a) >= m(a - 1) && m(a) >= m(b)) || (m(b) >= m(a) && m(b) >= m(b + 1))
}

impl<const P: usize, const T: usize> PeakScan<P, T> {
    const HALF: usize = T / 2;

    fn new() -> Self {
        Self::starting_at(0, &[])
    }

    /// A scan whose first interval is `start`'s; `history` holds the samples just before
    /// `start` (at most `T/2 - 1` are used; missing ones are silence).
    fn starting_at(start: u64, history: &[f32]) -> Self {
        const { assert!(T.is_multiple_of(2) && P > 1) };
        let half = Self::HALF;
        let keep = history.len().min(half - 1);
        let mut buf = vec![0.0; half - 1 - keep];
        buf.extend_from_slice(&history[history.len() - keep..]);
        PeakScan {
            interp: Interpolator::new(),
            buf,
            origin: start as i64 - (half as i64 - 1),
            next: start,
            pushed: start,
            near_extrema_only: false,
        }
    }

    /// Adds samples and reports `(interval, peak)` for every interval now complete whose
    /// peak may exceed `threshold` (the others certainly do not).
    fn push(&mut self, samples: &[f32], threshold: f32, found: &mut Vec<(u64, f32)>) {
        self.buf.extend_from_slice(samples);
        self.pushed += samples.len() as u64;
        self.scan(threshold, found, self.pushed);
    }

    /// The stream has ended: reports the intervals up to and including the last sample's.
    fn finish(&mut self, threshold: f32, found: &mut Vec<(u64, f32)>) {
        let pushed = self.pushed;
        self.buf
            .extend(std::iter::repeat_n(0.0, Self::HALF + BLOCK));
        self.scan(threshold, found, pushed);
    }

    /// Scans intervals below `limit` whose window lies in the buffer.
    fn scan(&mut self, threshold: f32, found: &mut Vec<(u64, f32)>, limit: u64) {
        let half = Self::HALF as i64;
        let end = self.origin + self.buf.len() as i64; // one past the last sample held
        loop {
            let first = self.next;
            // Interval n needs samples n - HALF + 1 ..= n + HALF.
            let last_possible = end - 1 - half;
            if (first as i64) > last_possible || first >= limit {
                break;
            }
            let last = (first + BLOCK as u64 - 1)
                .min(last_possible as u64)
                .min(limit - 1);
            let lo = (first as i64 - (half - 1) - self.origin) as usize;
            let hi = (last as i64 + half - self.origin) as usize;
            let local = self.buf[lo..=hi].iter().fold(0f32, |m, v| m.max(v.abs()));
            if local * self.interp.bound > threshold {
                for n in first..=last {
                    let at = (n as i64 - (half - 1) - self.origin) as usize;
                    let window = &self.buf[at..at + T];
                    if self.near_extrema_only && !beside_an_extremum(window, Self::HALF) {
                        continue;
                    }
                    let peak = self.interp.peak(window);
                    if peak > threshold {
                        found.push((n, peak));
                    }
                }
            }
            self.next = last + 1;
        }
        // Keep what the next interval needs.
        let keep_from = self.next as i64 - (half - 1);
        if keep_from > self.origin {
            let drop = ((keep_from - self.origin) as usize).min(self.buf.len());
            self.buf.drain(..drop);
            self.origin += drop as i64;
        }
    }
}

/// The largest true peak of a stream.
struct TruePeak {
    scan: MeterPeaks,
    max: f32,
    found: Vec<(u64, f32)>,
}

impl TruePeak {
    fn new() -> TruePeak {
        TruePeak::starting_at(0, &[])
    }

    fn starting_at(start: u64, history: &[f32]) -> TruePeak {
        let mut scan = MeterPeaks::starting_at(start, history);
        scan.near_extrema_only = true;
        TruePeak {
            scan,
            max: 0.0,
            found: Vec::new(),
        }
    }

    fn push(&mut self, samples: &[f32]) {
        self.scan.push(samples, self.max, &mut self.found);
        self.take();
    }

    fn finish(&mut self) -> f32 {
        self.scan.finish(self.max, &mut self.found);
        self.take();
        self.max
    }

    fn take(&mut self) {
        for (_, p) in self.found.drain(..) {
            self.max = self.max.max(p);
        }
    }
}

/// The look-ahead true-peak limiter. For every interval `k` it knows the gain `r[k]` that
/// would put that interval's peak at the ceiling (1 for most). The gain applied at sample
/// `i` is the average over `[i - attack, i]` of `m'`, where `m[i]` is the smallest `r` over
/// `[i - LIMITER_HALF, i + attack + LIMITER_HALF]` and `m'` adds the release. So every sample within `LIMITER_HALF`
/// of a peak — every sample the interpolation of that peak uses — gets at most the peak's
/// gain, reached by a linear ramp over `attack` samples before it.
struct Limiter {
    scan: FinePeaks,
    ceiling: f32,
    attack: usize,
    release: f64,
    found: Vec<(u64, f32)>,
    /// Interval peaks above the ceiling not yet turned into gains.
    found_at: usize,
    /// The next interval whose gain `r` enters the sliding minimum.
    r_next: u64,
    /// Sliding minimum of `r`: (interval, gain), gains increasing from the front.
    minima: VecDeque<(u64, f32)>,
    /// The next sample whose `m` will be known.
    m_next: u64,
    released: f64,
    /// The last `attack + 1` values of `m'`, and their sum.
    window: VecDeque<f64>,
    window_sum: f64,
    /// Inputs not yet output, from sample `m_next` on.
    pending: VecDeque<f32>,
    /// Frames lowered by more than 0.1 dB.
    limited: u64,
}

impl Limiter {
    fn new(ceiling: f32, sample_rate: u32) -> Limiter {
        let rate = f64::from(sample_rate.max(1));
        let attack = ((ATTACK_MS / 1000.0 * rate).round() as usize).max(1);
        let mut window = VecDeque::with_capacity(attack + 1);
        window.extend(std::iter::repeat_n(1.0, attack));
        Limiter {
            scan: FinePeaks::new(),
            ceiling,
            attack,
            release: 1.0 - (-1.0 / (RELEASE_MS / 1000.0 * rate)).exp(),
            found: Vec::new(),
            found_at: 0,
            r_next: 0,
            minima: VecDeque::new(),
            m_next: 0,
            released: 1.0,
            window,
            window_sum: attack as f64,
            pending: VecDeque::new(),
            limited: 0,
        }
    }

    /// Takes input samples (gain applied); gives every sample whose gain is now known.
    fn push(&mut self, input: &[f32], out: &mut dyn FnMut(f32)) {
        self.pending.extend(input);
        self.scan.push(input, self.ceiling, &mut self.found);
        let known = self.scan.next;
        self.advance(known, out);
    }

    /// The input has ended: gives the remaining samples.
    fn finish(&mut self, out: &mut dyn FnMut(f32)) {
        self.scan.finish(self.ceiling, &mut self.found);
        // Beyond the end there is nothing to limit.
        let total = self.scan.pushed;
        self.advance(total + (self.attack + LIMITER_HALF) as u64, out);
        debug_assert!(self.pending.is_empty());
    }

    /// Feeds the gains of intervals up to (not including) `known` into the sliding minimum
    /// and outputs every sample whose `m` is then complete.
    fn advance(&mut self, known: u64, out: &mut dyn FnMut(f32)) {
        let reach = (self.attack + LIMITER_HALF) as u64;
        while self.r_next < known {
            let k = self.r_next;
            let r = match self.found.get(self.found_at) {
                Some(&(n, peak)) if n == k => {
                    self.found_at += 1;
                    (self.ceiling / peak).min(1.0)
                }
                _ => 1.0,
            };
            while self.minima.back().is_some_and(|&(_, v)| v >= r) {
                self.minima.pop_back();
            }
            self.minima.push_back((k, r));
            self.r_next += 1;
            // m[i] needs r up to i + attack + LIMITER_HALF.
            if k >= reach {
                self.emit(k - reach, out);
            }
        }
        if self.found_at == self.found.len() {
            self.found.clear();
            self.found_at = 0;
        }
    }

    /// Outputs sample `i`, whose `m` is now complete.
    fn emit(&mut self, i: u64, out: &mut dyn FnMut(f32)) {
        debug_assert_eq!(i, self.m_next);
        let from = i.saturating_sub(LIMITER_HALF as u64);
        while self.minima.front().is_some_and(|&(k, _)| k < from) {
            self.minima.pop_front();
        }
        let m = f64::from(self.minima.front().map_or(1.0, |&(_, v)| v));
        self.released = m.min(self.released + (1.0 - self.released) * self.release);
        self.window.push_back(self.released);
        self.window_sum += self.released;
        if self.window.len() > self.attack + 1
            && let Some(old) = self.window.pop_front()
        {
            self.window_sum -= old;
        }
        if i.is_multiple_of(CHUNK as u64) {
            // Keep the running sum from drifting over hours of audio.
            self.window_sum = self.window.iter().sum();
        }
        let gain = self.window_sum / (self.attack + 1) as f64;
        if gain < LIMITED {
            self.limited += 1;
        }
        self.m_next += 1;
        if let Some(x) = self.pending.pop_front() {
            out((f64::from(x) * gain) as f32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom, Write};

    fn sine(freq: f64, amplitude: f64, phase: f64, rate: u32, frames: usize) -> Vec<i16> {
        (0..frames)
            .map(|n| {
                let t = n as f64 / f64::from(rate);
                (amplitude * (2.0 * std::f64::consts::PI * freq * t + phase).sin()).round() as i16
            })
            .collect()
    }

    fn measure(samples: &[i16], rate: u32) -> Loudness {
        let mut m = Meter::new(rate).unwrap();
        for c in samples.chunks(1000) {
            m.add(c);
        }
        m.finish()
    }

    /// The same measurement by the `ebur128` crate alone (its true peak oversamples 4×).
    fn reference(samples: &[i16], rate: u32) -> (f64, f64) {
        let mut e = EbuR128::new(1, rate, Mode::I | Mode::TRUE_PEAK).unwrap();
        e.add_frames_i16(samples).unwrap();
        (
            e.loudness_global().unwrap(),
            20.0 * e.true_peak(0).unwrap().log10(),
        )
    }

    #[test]
    fn a_full_scale_1khz_sine_reads_minus_3_lufs_and_0_dbtp() {
        let s = sine(997.0, 32767.0, 0.0, 48000, 48000 * 3);
        let l = measure(&s, 48000);
        let lufs = l.integrated_lufs.unwrap();
        assert!((lufs - -3.01).abs() < 0.1, "{lufs}");
        assert!(l.true_peak_dbtp.unwrap().abs() < 0.01, "{l:?}");
    }

    #[test]
    fn peaks_between_samples_are_found() {
        // A quarter-rate sine sampled 45° off its peaks: every sample is at 0.707 of the peak.
        // It fades in and out, as an abrupt start would overshoot between samples.
        let mut s = sine(5512.5, 20000.0, std::f64::consts::FRAC_PI_4, 22050, 22050);
        let n = s.len();
        for i in 0..2000 {
            let g = (i as f64 / 2000.0 * std::f64::consts::FRAC_PI_2).sin();
            s[i] = (f64::from(s[i]) * g).round() as i16;
            s[n - 1 - i] = (f64::from(s[n - 1 - i]) * g).round() as i16;
        }
        let sample_peak = s.iter().map(|v| i32::from(*v).abs()).max().unwrap();
        assert!(f64::from(sample_peak) < 20000.0 * 0.71);
        let tp = measure(&s, 22050).true_peak_dbtp.unwrap();
        let expected = 20.0 * (20000.0 / FULL_SCALE).log10();
        assert!((tp - expected).abs() < 0.05, "{tp} vs {expected}");
        let (_, reference_tp) = reference(&s, 22050);
        assert!((tp - reference_tp).abs() < 0.3, "{tp} vs {reference_tp}");
    }

    #[test]
    fn the_meter_agrees_with_the_ebur128_crate_on_speechlike_audio() {
        // A tone burst pattern with silences, like speech.
        let mut s = Vec::new();
        for i in 0..40 {
            s.extend(sine(
                180.0 + 37.0 * f64::from(i % 7),
                3000.0 + 900.0 * f64::from(i % 5),
                0.3,
                22050,
                9000,
            ));
            s.extend(std::iter::repeat_n(0, 4000));
        }
        let l = measure(&s, 22050);
        let (lufs, tp) = reference(&s, 22050);
        assert!((l.integrated_lufs.unwrap() - lufs).abs() < 1e-9);
        assert!(
            (l.true_peak_dbtp.unwrap() - tp).abs() < 0.2,
            "{l:?} vs {tp}"
        );
    }

    #[test]
    fn measuring_in_pieces_gives_the_single_pass_result() {
        let rate = 8000;
        let mut s = Vec::new();
        for i in 0..12u32 {
            s.extend(sine(
                200.0 + f64::from(i % 9) * 30.0,
                500.0 + 400.0 * f64::from(i % 11),
                0.0,
                rate,
                24000 + 77 * i as usize,
            ));
            s.extend(std::iter::repeat_n(0, 5000 + 13 * i as usize));
        }
        let min_piece: u64 = 80_000; // 10 s
        assert!(s.len() as u64 > 3 * min_piece, "{}", s.len());
        let single = measure(&s, rate);
        let f = file_with(&s);
        for threads in [1, 2, 3, 8] {
            let l = measure_in_pieces(&f, 10, s.len() as u64, rate, threads, min_piece, &|| false)
                .unwrap();
            let (a, b) = (l.integrated_lufs.unwrap(), single.integrated_lufs.unwrap());
            assert!((a - b).abs() < 1e-6, "{threads} threads: {a} vs {b}");
            assert_eq!(l.true_peak_dbtp, single.true_peak_dbtp, "{threads} threads");
        }
        let err = super::measure(&f, 10, s.len() as u64, rate, 2, &|| true).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Interrupted);
        let empty = super::measure(&f, 10, 0, rate, 2, &|| false).unwrap();
        assert_eq!(empty.integrated_lufs, None);
    }

    #[test]
    fn silence_and_very_short_audio_have_no_loudness() {
        let l = measure(&[0; 44100], 22050);
        assert_eq!(l.integrated_lufs, None);
        assert_eq!(l.true_peak_dbtp, None);
        let l = measure(&[1000; 100], 22050);
        assert_eq!(l.integrated_lufs, None);
        assert!(l.true_peak_dbtp.is_some());
    }

    /// Writes samples as a bare file (offset 10, as if after a header) for `normalize`.
    fn file_with(samples: &[i16]) -> File {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&[7u8; 10]).unwrap();
        for s in samples {
            f.write_all(&s.to_le_bytes()).unwrap();
        }
        f.write_all(b"tail").unwrap();
        f.seek(SeekFrom::Start(0)).unwrap();
        f
    }

    fn read_back(f: &File, frames: usize) -> Vec<i16> {
        let mut samples = Vec::new();
        crate::audio::read_le_samples(&mut samples, frames, |bytes| f.read_exact_at(bytes, 10))
            .unwrap();
        samples
    }

    fn speechlike(rate: u32) -> Vec<i16> {
        // Quiet tone bursts with occasional sharp clicks: normalising to -16 LUFS pushes the
        // clicks far past -1 dBTP, so the limiter has work to do.
        let mut s = Vec::new();
        for i in 0..30 {
            let mut burst = sine(150.0 + 20.0 * f64::from(i % 6), 1500.0, 0.0, rate, 8000);
            for k in (500..8000).step_by(2100) {
                burst[k] = burst[k].saturating_add(9000);
                burst[k + 1] = burst[k + 1].saturating_sub(9000);
            }
            s.extend(burst);
            s.extend(std::iter::repeat_n(0, 3000));
        }
        s
    }

    #[test]
    fn normalising_hits_the_target_and_keeps_true_peaks_under_the_ceiling() {
        let rate = 22050;
        let s = speechlike(rate);
        let before = measure(&s, rate);
        let f = file_with(&s);
        let target = Target {
            integrated_lufs: -16.0,
            true_peak_dbtp: -1.0,
        };
        let n = normalize(&f, 10, s.len() as u64, rate, &before, &target, &|| false)
            .unwrap()
            .unwrap();
        let out = read_back(&f, s.len());
        let after = measure(&out, rate);
        assert_eq!(after, n.after, "the reported result is the file's");
        let lufs = after.integrated_lufs.unwrap();
        assert!((lufs - -16.0).abs() <= 0.1, "{lufs}");
        let tp = after.true_peak_dbtp.unwrap();
        assert!(tp <= -1.0, "{tp}");
        assert!(n.limited_frames > 0, "{n:?}");
        // Only the gain and the limiter changed the samples: no clipping, no jumps.
        assert!(out.iter().all(|&v| v > i16::MIN && v < i16::MAX));
        // The independent crate agrees about the peaks, within its coarser 4× estimate.
        let (_, reference_tp) = reference(&out, rate);
        assert!(reference_tp <= -1.0 + 0.05, "{reference_tp}");
        // The bytes around the samples are untouched.
        let mut head = [0u8; 10];
        f.read_exact_at(&mut head, 0).unwrap();
        assert_eq!(head, [7u8; 10]);
        let mut tail = [0u8; 4];
        f.read_exact_at(&mut tail, 10 + 2 * s.len() as u64).unwrap();
        assert_eq!(&tail, b"tail");
    }

    #[test]
    fn without_peaks_to_limit_it_is_one_exact_gain() {
        let rate = 22050;
        let s = sine(220.0, 1000.0, 0.0, rate, rate as usize * 2);
        let before = measure(&s, rate);
        let f = file_with(&s);
        let target = Target {
            integrated_lufs: -20.0,
            true_peak_dbtp: -1.0,
        };
        let n = normalize(&f, 10, s.len() as u64, rate, &before, &target, &|| false)
            .unwrap()
            .unwrap();
        assert_eq!(n.limited_frames, 0);
        let out = read_back(&f, s.len());
        let g = 10f64.powf(n.gain_db / 20.0);
        for (a, b) in s.iter().zip(&out) {
            assert!((f64::from(*a) * g - f64::from(*b)).abs() <= 0.5 + 1e-3);
        }
        assert!((n.after.integrated_lufs.unwrap() - -20.0).abs() < 0.02);
    }

    #[test]
    fn silence_is_left_alone_and_a_stop_interrupts() {
        let f = file_with(&[0; 30000]);
        let before = measure(&[0; 30000], 22050);
        let target = Target {
            integrated_lufs: -16.0,
            true_peak_dbtp: -1.0,
        };
        assert_eq!(
            normalize(&f, 10, 30000, 22050, &before, &target, &|| false).unwrap(),
            None
        );
        let s = speechlike(22050);
        let f = file_with(&s);
        let before = measure(&s, 22050);
        let err = normalize(&f, 10, s.len() as u64, 22050, &before, &target, &|| true).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Interrupted);
    }

    #[test]
    fn the_limiter_outputs_every_sample_once_in_order() {
        for len in [0usize, 1, 5, 63, 64, 65, 1000, 70_000] {
            let input: Vec<f32> = (0..len).map(|i| (i % 100) as f32).collect();
            let mut l = Limiter::new(1e9, 22050);
            let mut out = Vec::new();
            for c in input.chunks(777) {
                l.push(c, &mut |y| out.push(y));
            }
            l.finish(&mut |y| out.push(y));
            assert_eq!(out, input, "len {len}");
        }
    }
}
