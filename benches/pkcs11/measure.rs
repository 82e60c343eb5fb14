//! Timing: the bounded measurement loops, a latency histogram and the process's CPU time and
//! peak RSS from getrusage.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use crate::Failure;

/// How long one repetition may run: it stops at `time` or after `max_ops`, whichever comes
/// first, and always does at least one operation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) time: Duration,
    pub(crate) max_ops: u64,
}

/// One repetition's totals.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sample {
    pub(crate) ops: u64,
    pub(crate) wall_ns: u64,
    /// User + system CPU time of the whole process (every thread) during the repetition.
    pub(crate) cpu_ns: u64,
}

/// Latencies in log-linear buckets: exact below 64 ns, then 32 buckets per power of two
/// (about 3 % resolution). Fixed size, so measuring allocates nothing and adds no RSS.
#[derive(Clone)]
pub(crate) struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

const LINEAR: usize = 64;
const SUB_BITS: u32 = 5;
const SUB: usize = 1 << SUB_BITS;

impl Histogram {
    pub(crate) fn new() -> Self {
        Histogram {
            counts: vec![0; LINEAR + SUB * 64],
            total: 0,
        }
    }

    fn index(ns: u64) -> usize {
        if ns < LINEAR as u64 {
            return usize::try_from(ns).unwrap_or(0);
        }
        let exp = 63 - ns.leading_zeros(); // >= 6
        let sub = (ns >> (exp - SUB_BITS)) & (SUB as u64 - 1);
        LINEAR + (exp as usize - 6) * SUB + usize::try_from(sub).unwrap_or(0)
    }

    /// The middle of bucket `idx`.
    fn value(idx: usize) -> u64 {
        if idx < LINEAR {
            return idx as u64;
        }
        let exp = u32::try_from((idx - LINEAR) / SUB + 6).unwrap_or(63);
        let sub = ((idx - LINEAR) % SUB) as u64;
        let width = 1u64 << (exp - SUB_BITS);
        (1u64 << exp) + sub * width + width / 2
    }

    pub(crate) fn record(&mut self, ns: u64) {
        let i = Self::index(ns).min(self.counts.len() - 1);
        self.counts[i] += 1;
        self.total += 1;
    }

    pub(crate) fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
    }

    pub(crate) fn clear(&mut self) {
        self.counts.iter_mut().for_each(|c| *c = 0);
        self.total = 0;
    }

    /// The q-quantile (0..=1) in ns; 0 when empty.
    pub(crate) fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        // The rank of the sample at q, 1-based (nearest-rank method).
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        // 0 <= q * total <= total
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::value(i);
            }
        }
        0
    }
}

/// Runs `op` until `limits` say stop, recording each call's latency in `hist`.
pub(crate) fn measure(
    limits: Limits,
    hist: &mut Histogram,
    mut op: impl FnMut() -> Result<(), Failure>,
) -> Result<Sample, Failure> {
    let cpu0 = rusage::cpu_ns();
    let start = Instant::now();
    let mut prev = start;
    let mut ops = 0;
    loop {
        op()?;
        let now = Instant::now();
        hist.record(nanos(now - prev));
        prev = now;
        ops += 1;
        if ops >= limits.max_ops || now - start >= limits.time {
            break;
        }
    }
    let wall_ns = nanos(prev - start);
    Ok(Sample {
        ops,
        wall_ns,
        cpu_ns: rusage::cpu_ns().saturating_sub(cpu0),
    })
}

/// Runs one `op` per thread, each made by `make_op` on its own thread (so a side can open a
/// session there), all started together; `limits.max_ops` is per thread. The wall time runs
/// from the common start to the last thread's last op.
pub(crate) fn measure_threads<M, F>(
    threads: usize,
    limits: Limits,
    hist: &mut Histogram,
    make_op: M,
) -> Result<Sample, Failure>
where
    M: Fn() -> Result<F, Failure> + Sync,
    F: FnMut() -> Result<(), Failure>,
{
    let ready = Barrier::new(threads + 1);
    let go = Barrier::new(threads + 1);
    let cpu0 = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let op = make_op();
                    ready.wait(); // every thread has its op (or failed)
                    go.wait(); // the parent has read the CPU clock
                    let start = Instant::now();
                    let mut h = Histogram::new();
                    let sample = measure(limits, &mut h, op?)?;
                    Ok::<_, Failure>((start, sample, h))
                })
            })
            .collect();
        ready.wait();
        let cpu0 = rusage::cpu_ns();
        go.wait();
        let mut ops = 0;
        let mut span: Option<(Instant, Instant)> = None;
        let mut first_err = None;
        for handle in handles {
            match handle.join() {
                Ok(Ok((start, s, h))) => {
                    ops += s.ops;
                    hist.merge(&h);
                    let end = start + Duration::from_nanos(s.wall_ns);
                    span = Some(span.map_or((start, end), |(a, b)| (a.min(start), b.max(end))));
                }
                Ok(Err(e)) => first_err = first_err.or(Some(e)),
                Err(_) => {
                    first_err = first_err.or(Some(Failure::Error("a bench thread panicked".into())))
                }
            }
        }
        match (first_err, span) {
            (Some(e), _) => Err(e),
            (None, None) => Err(Failure::Error("no thread ran".into())),
            (None, Some((a, b))) => Ok((cpu0, ops, nanos(b - a))),
        }
    });
    let (cpu0, ops, wall_ns) = cpu0?;
    Ok(Sample {
        ops,
        wall_ns,
        cpu_ns: rusage::cpu_ns().saturating_sub(cpu0),
    })
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// getrusage(2): the one piece of unsafe code in the benchmark.
#[allow(unsafe_code)]
pub(crate) mod rusage {
    fn get() -> Option<libc::rusage> {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: getrusage writes a whole `struct rusage` to the valid, writable pointer it is
        // given and reads nothing from it.
        let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
        // SAFETY: rc == 0 means the kernel filled the struct; it was zeroed before anyway, and
        // every field of `rusage` is a plain integer, valid for any bit pattern.
        (rc == 0).then(|| unsafe { usage.assume_init() })
    }

    fn tv_ns(tv: libc::timeval) -> u64 {
        let s = u64::try_from(tv.tv_sec).unwrap_or(0);
        let us = u64::try_from(tv.tv_usec).unwrap_or(0);
        s * 1_000_000_000 + us * 1_000
    }

    /// User + system CPU time of this process, all threads, in ns.
    pub(crate) fn cpu_ns() -> u64 {
        get().map_or(0, |u| tv_ns(u.ru_utime) + tv_ns(u.ru_stime))
    }

    /// Peak resident set size of this process, in KiB.
    pub(crate) fn max_rss_kib() -> u64 {
        get().map_or(0, |u| u64::try_from(u.ru_maxrss).unwrap_or(0))
    }
}
