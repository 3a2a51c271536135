//! Bad input and floods: per-source counters over a window of a few
//! seconds. The first bad datagram of a source in a window is logged at
//! once (source and reason); the rest are counted and summed up in one line
//! per source when the window ends. A source sending more than
//! [`FLOOD_LIMIT`] datagrams in a window is ignored until the window ends
//! while the daemon is busy (its queue of received datagrams backs up): a
//! fast client alone is served as fast as we can, a flood that would crowd
//! out the others is not.
//! Memory is bounded: at most [`MAX_SOURCES`] sources are tracked per
//! window; beyond that, further sources share one overflow counter.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Duration;

pub const WINDOW: Duration = Duration::from_secs(5);
pub const MAX_SOURCES: usize = 1024;
/// Datagrams one source may send per window before we stop answering it.
pub const FLOOD_LIMIT: u32 = 500;

const LOG: &str = "nmbd::badinput";

#[derive(Debug, Default)]
struct Source {
    packets: u32,
    bad: u32,
    suppressed: u32,
    /// Datagrams refused as a flood.
    ignored: u32,
    last_reason: String,
    flood_logged: bool,
}

#[derive(Debug, Default)]
pub struct Guard {
    sources: HashMap<Ipv4Addr, Source>,
    overflow: u32,
}

impl Guard {
    /// Counts a datagram from `src`; false when the source is flooding
    /// and we are `busy`.
    pub fn admit(&mut self, src: Ipv4Addr, busy: bool) -> bool {
        let full = self.sources.len() >= MAX_SOURCES;
        let Some(s) = (match self.sources.get_mut(&src) {
            Some(s) => Some(s),
            None if full => None,
            None => Some(self.sources.entry(src).or_default()),
        }) else {
            return true;
        };
        s.packets = s.packets.saturating_add(1);
        if s.packets <= FLOOD_LIMIT || !busy {
            return true;
        }
        s.ignored = s.ignored.saturating_add(1);
        if !s.flood_logged {
            s.flood_logged = true;
            tracing::warn!(target: LOG, source = %src, "dropped: flood (more than {FLOOD_LIMIT} datagrams in {}s while busy); ignoring this source while busy until the window ends", WINDOW.as_secs());
        }
        false
    }

    /// A datagram from `src` was dropped for `reason`.
    pub fn bad(&mut self, src: Ipv4Addr, reason: &dyn std::fmt::Display) {
        let full = self.sources.len() >= MAX_SOURCES;
        let s = match self.sources.get_mut(&src) {
            Some(s) => s,
            None if full => {
                self.overflow = self.overflow.saturating_add(1);
                return;
            }
            None => self.sources.entry(src).or_default(),
        };
        s.bad = s.bad.saturating_add(1);
        if s.bad == 1 {
            tracing::warn!(target: LOG, source = %src, "dropped bad datagram: {reason}");
        } else {
            s.suppressed = s.suppressed.saturating_add(1);
            s.last_reason = reason.to_string();
        }
    }

    /// Ends the window: one line per source whose lines were suppressed.
    pub fn flush(&mut self) {
        for (src, s) in self.sources.drain() {
            if s.suppressed > 0 {
                tracing::warn!(target: LOG, source = %src, "dropped {} more bad datagrams in {}s (last: {})", s.suppressed, WINDOW.as_secs(), s.last_reason);
            }
            if s.ignored > 0 {
                tracing::warn!(target: LOG, source = %src, "flood: {} datagrams in {}s, {} ignored", s.packets, WINDOW.as_secs(), s.ignored);
            }
        }
        if self.overflow > 0 {
            tracing::warn!(target: LOG, "dropped {} bad datagrams from sources beyond the first {MAX_SOURCES}", self.overflow);
            self.overflow = 0;
        }
    }

    pub fn tracked(&self) -> usize {
        self.sources.len()
    }
}

/// The first line of defence, at each socket's reader, before the queue to
/// the task that answers: while that queue is more than half full, a
/// source that already sent more than [`FLOOD_LIMIT`] datagrams in this
/// window is dropped here, so that the queue keeps room for everyone
/// else's. Bounded like [`Guard`]; one log line per window at most.
#[derive(Debug)]
pub struct ReaderGate {
    started: std::time::Instant,
    counts: HashMap<Ipv4Addr, u32>,
    dropped: u32,
    /// The source with the most drops this window, for the log line.
    worst: Option<(Ipv4Addr, u32)>,
}

impl ReaderGate {
    pub fn new(now: std::time::Instant) -> ReaderGate {
        ReaderGate {
            started: now,
            counts: HashMap::new(),
            dropped: 0,
            worst: None,
        }
    }

    /// Whether a datagram from `src` goes on to the queue; `crowded` when
    /// the queue is more than half full.
    pub fn pass(&mut self, src: Ipv4Addr, now: std::time::Instant, crowded: bool) -> bool {
        if now.duration_since(self.started) >= WINDOW {
            if self.dropped > 0 {
                let (worst, n) = self.worst.unwrap_or((src, 0));
                tracing::warn!(target: LOG, source = %worst, "flood: {} datagrams dropped at the socket in {}s while busy ({n} from this source)", self.dropped, WINDOW.as_secs());
            }
            self.started = now;
            self.counts.clear();
            self.dropped = 0;
            self.worst = None;
        }
        let full = self.counts.len() >= MAX_SOURCES;
        let n = match self.counts.get_mut(&src) {
            Some(n) => n,
            None if full => return true,
            None => self.counts.entry(src).or_default(),
        };
        *n = n.saturating_add(1);
        if *n <= FLOOD_LIMIT || !crowded {
            return true;
        }
        let over = *n - FLOOD_LIMIT;
        self.dropped = self.dropped.saturating_add(1);
        if self.worst.is_none_or(|(_, w)| over > w) {
            self.worst = Some((src, over));
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_flood() {
        let mut g = Guard::default();
        for i in 0..(MAX_SOURCES as u32 + 100) {
            g.bad(Ipv4Addr::from(i), &"x");
        }
        assert_eq!(g.tracked(), MAX_SOURCES);
        assert_eq!(g.overflow, 100);
        g.flush();
        assert_eq!(g.tracked(), 0);
        let src = Ipv4Addr::new(10, 0, 0, 9);
        for _ in 0..FLOOD_LIMIT {
            assert!(g.admit(src, true));
        }
        // Over the limit: refused while busy, served while idle.
        assert!(!g.admit(src, true));
        assert!(g.admit(src, false));
        assert!(g.admit(Ipv4Addr::new(10, 0, 0, 8), true));
        g.flush();
        assert!(g.admit(src, true));
    }

    #[test]
    fn reader_gate_keeps_room_for_others() {
        let t0 = std::time::Instant::now();
        let mut g = ReaderGate::new(t0);
        let flooder = Ipv4Addr::new(10, 0, 0, 9);
        let other = Ipv4Addr::new(10, 0, 0, 8);
        for _ in 0..FLOOD_LIMIT {
            assert!(g.pass(flooder, t0, true));
        }
        // Over the limit: dropped while crowded, passed while not.
        assert!(!g.pass(flooder, t0, true));
        assert!(g.pass(flooder, t0, false));
        assert!(g.pass(other, t0, true));
        // A new window starts afresh.
        assert!(g.pass(flooder, t0 + WINDOW, true));
    }
}
