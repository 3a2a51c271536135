//! Windows FILETIME: 100 ns intervals since 1601-01-01 UTC.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds between 1601-01-01 and 1970-01-01.
const EPOCH_DIFF_SECS: u64 = 11_644_473_600;

pub fn from_system(t: SystemTime) -> u64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() + EPOCH_DIFF_SECS) * 10_000_000 + u64::from(d.subsec_nanos() / 100),
        Err(e) => {
            let back = e.duration();
            (EPOCH_DIFF_SECS * 10_000_000)
                .saturating_sub(back.as_secs() * 10_000_000 + u64::from(back.subsec_nanos() / 100))
        }
    }
}

pub fn from_unix(secs: i64, nsec: i64) -> u64 {
    let total = (secs as i128 + EPOCH_DIFF_SECS as i128) * 10_000_000 + (nsec as i128) / 100;
    total.clamp(0, u64::MAX as i128) as u64
}

/// Seconds and nanoseconds since the Unix epoch.
pub fn to_unix(ft: u64) -> (i64, i64) {
    let hundred_ns = ft as i128 - (EPOCH_DIFF_SECS as i128) * 10_000_000;
    let secs = hundred_ns.div_euclid(10_000_000);
    let rem = hundred_ns.rem_euclid(10_000_000);
    (secs as i64, (rem * 100) as i64)
}

pub fn now() -> u64 {
    from_system(SystemTime::now())
}

pub fn to_system(ft: u64) -> SystemTime {
    let (s, n) = to_unix(ft);
    if s >= 0 {
        UNIX_EPOCH + Duration::new(s as u64, n as u32)
    } else {
        UNIX_EPOCH - Duration::from_secs((-s) as u64) + Duration::from_nanos(n as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(from_unix(0, 0), 116_444_736_000_000_000);
        assert_eq!(to_unix(116_444_736_000_000_000), (0, 0));
        assert_eq!(
            to_unix(from_unix(1_700_000_000, 123_456_700)),
            (1_700_000_000, 123_456_700)
        );
        assert_eq!(from_unix(-20_000_000_000, 0), 0);
    }
}
