//! Credits and message ids (MS-SMB2 3.3.1.1, 3.3.5.2.3): the client may use
//! only message ids the server has granted, each once. The server keeps
//! the window [low, granted) and which ids in it are used.

use std::collections::VecDeque;

/// Most credits a client may hold at once (Samba's "smb2 max credits").
pub const MAX_CREDITS: u64 = 8192;

#[derive(Debug)]
pub struct Credits {
    /// Every id below `low` is used.
    low: u64,
    /// Ids below `granted` were granted.
    granted: u64,
    /// used[i] says whether id `low + i` is used.
    used: VecDeque<bool>,
    /// How many entries of `used` are true (kept so that granting, once
    /// per response, does not walk a window of up to MAX_CREDITS ids).
    used_count: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CreditError {
    #[error("message id {id} (charge {charge}) outside the granted window {low}..{granted}")]
    OutOfWindow {
        id: u64,
        charge: u64,
        low: u64,
        granted: u64,
    },
    #[error("message id {0} used twice")]
    Reused(u64),
}

impl Default for Credits {
    fn default() -> Self {
        Credits {
            low: 0,
            granted: 1,
            used: VecDeque::new(),
            used_count: 0,
        }
    }
}

impl Credits {
    /// Consumes ids `id .. id+charge`.
    pub fn consume(&mut self, id: u64, charge: u64) -> Result<(), CreditError> {
        let charge = charge.max(1);
        let end = id.checked_add(charge).ok_or(CreditError::OutOfWindow {
            id,
            charge,
            low: self.low,
            granted: self.granted,
        })?;
        if id < self.low || end > self.granted {
            return Err(CreditError::OutOfWindow {
                id,
                charge,
                low: self.low,
                granted: self.granted,
            });
        }
        let span = (self.granted - self.low) as usize;
        if self.used.len() < span {
            self.used.resize(span, false);
        }
        let from = (id - self.low) as usize;
        if self.used.range(from..from + charge as usize).any(|&u| u) {
            return Err(CreditError::Reused(id));
        }
        for u in self.used.range_mut(from..from + charge as usize) {
            *u = true;
        }
        self.used_count += charge;
        while self.used.front() == Some(&true) {
            self.used.pop_front();
            self.low += 1;
            self.used_count -= 1;
        }
        Ok(())
    }

    /// Credits the client holds (granted ids not yet used).
    pub fn outstanding(&self) -> u64 {
        self.granted - self.low - self.used_count
    }

    /// Grants up to `requested` more (at least one when the client holds
    /// none, so it can always go on); returns the number granted.
    pub fn grant(&mut self, requested: u16) -> u16 {
        let room = MAX_CREDITS.saturating_sub(self.outstanding());
        let mut n = u64::from(requested).min(room);
        if n == 0 && self.outstanding() == 0 {
            n = 1;
        }
        self.granted += n;
        n as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window() {
        let mut c = Credits::default();
        c.consume(0, 1).unwrap();
        assert_eq!(c.outstanding(), 0);
        assert_eq!(c.grant(31), 31);
        assert_eq!(c.outstanding(), 31);
        c.consume(1, 1).unwrap();
        assert!(matches!(
            c.consume(1, 1),
            Err(CreditError::OutOfWindow { low: 2, .. })
        ));
        c.consume(3, 4).unwrap(); // multi-credit, out of order
        assert_eq!(c.consume(4, 1), Err(CreditError::Reused(4)));
        c.consume(2, 1).unwrap();
        assert_eq!(c.outstanding(), 31 - 6);
        assert_eq!(c.used_count, c.used.iter().filter(|&&u| u).count() as u64);
        assert!(matches!(
            c.consume(40, 1),
            Err(CreditError::OutOfWindow { .. })
        ));
        assert!(matches!(
            c.consume(u64::MAX, 2),
            Err(CreditError::OutOfWindow { .. })
        ));
        assert!(matches!(
            c.consume(0, 1),
            Err(CreditError::OutOfWindow { .. })
        ));
    }

    #[test]
    fn never_more_than_the_cap_and_never_stuck() {
        let mut c = Credits::default();
        c.consume(0, 1).unwrap();
        assert_eq!(u64::from(c.grant(u16::MAX)), MAX_CREDITS);
        assert_eq!(c.outstanding(), MAX_CREDITS);
        assert_eq!(c.grant(10), 0);
        let mut c = Credits::default();
        c.consume(0, 1).unwrap();
        assert_eq!(c.grant(0), 1, "a client with no credit gets one");
    }
}
