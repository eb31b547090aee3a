//! When a schedule fires: the instants ("slots", in milliseconds since the Unix epoch) of a cron
//! pattern in a time zone, or of a fixed interval. Every instance of an application computes the
//! same slots from the same schedule: they depend on nothing local (not the machine's zone, not
//! when the instance started).
//!
//! Daylight saving time, for cron patterns (the rules of OCPS 1.4, as croner and Vixie cron):
//! - a time of day that does not exist (the hour skipped in spring): a pattern of fixed times
//!   (plain seconds, minutes and hours, as `30 2 * * *`) runs at the end of the gap, once; any
//!   other pattern (`*/15 * * * *`) runs at its real matches, so the skipped ones do not run;
//! - a time of day that happens twice (the hour repeated in autumn): a pattern of fixed times runs
//!   once, the first time; any other runs at every real match, in both passes.

use jiff::Timestamp;
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};

use super::cron::{Civil, Cron};

/// When a schedule fires.
#[derive(Debug, Clone)]
pub(crate) enum Timing {
    /// A cron pattern, read in a time zone.
    Cron { cron: Cron, zone: TimeZone },
    /// Every `ms` milliseconds, the slots being multiples of it since the Unix epoch.
    Every { ms: u64 },
}

impl Timing {
    /// The first slot strictly after `after_ms` (`None`: the pattern has no more, past year 9999).
    pub(crate) fn next_after(&self, after_ms: u64) -> Option<u64> {
        match self {
            Timing::Every { ms } => (after_ms / ms).checked_add(1)?.checked_mul(*ms),
            Timing::Cron { cron, zone } => {
                let after = Timestamp::from_millisecond(i64::try_from(after_ms).ok()?).ok()?;
                let next = next_in_zone(cron, zone, after)?;
                u64::try_from(next.as_millisecond()).ok()
            }
        }
    }

    /// The latest `cap` slots in `(after_ms, until_ms]`, oldest first, and whether there were
    /// more than that.
    pub(crate) fn latest_between(&self, after_ms: u64, until_ms: u64, cap: usize) -> (Vec<u64>, bool) {
        if until_ms <= after_ms || cap == 0 {
            return (Vec::new(), false);
        }
        if let Timing::Every { ms } = *self {
            // Slots k * ms with after < k * ms <= until.
            let (first, last) = (after_ms / ms + 1, until_ms / ms);
            if first > last {
                return (Vec::new(), false);
            }
            let count = last - first + 1;
            let from = last + 1 - count.min(cap as u64);
            return ((from..=last).map(|k| k * ms).collect(), count > cap as u64);
        }
        // A pattern has no arithmetic: walk windows ending at `until`, doubling them until they
        // hold `cap` slots or reach back to `after`. The walk costs about as many steps as slots
        // kept, however long ago `after` is.
        let mut span: u64 = 60_000;
        loop {
            let start = until_ms.saturating_sub(span).max(after_ms);
            let mut kept = std::collections::VecDeque::with_capacity(cap.min(1024));
            let mut dropped = false;
            let mut t = start;
            while let Some(slot) = self.next_after(t).filter(|s| *s <= until_ms) {
                if kept.len() == cap {
                    kept.pop_front();
                    dropped = true;
                }
                kept.push_back(slot);
                t = slot;
            }
            if dropped || kept.len() == cap || start == after_ms {
                // Slots before `start` exist only when it is later than `after`.
                let more =
                    dropped || (start > after_ms && self.next_after(after_ms).is_some_and(|s| s <= start));
                return (kept.into(), more);
            }
            span = span.saturating_mul(2);
        }
    }
}

/// The first instant strictly after `after` at which `cron` matches the wall clock of `zone`.
fn next_in_zone(cron: &Cron, zone: &TimeZone, after: Timestamp) -> Option<Timestamp> {
    let offset = zone.to_offset(after);
    let wall = offset.to_datetime(after);
    let mut best = None;
    // In the first pass of a repeated hour, its second pass is still ahead, though its wall
    // clock times are earlier than `wall`.
    if !cron.fixed_time()
        && let Some((start, end, later)) = first_pass_of_fold(zone, after, offset)
        && let Some(c) = cron.first_from(start).filter(|c| *c < end)
    {
        best = later.to_timestamp(c.datetime()).ok();
    }
    let mut from = Civil::of(wall).next_second()?;
    let found = loop {
        let c = cron.first_from(from)?;
        let dt = c.datetime();
        let at = match zone.to_ambiguous_timestamp(dt).offset() {
            AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(dt).ok(),
            // The gap's end is the transition: the first instant after the wall-clock time
            // read with the offset in force after the gap.
            AmbiguousOffset::Gap { after: post, .. } if cron.fixed_time() => {
                let before_gap = post.to_timestamp(dt).ok()?;
                zone.following(before_gap).next().map(|t| t.timestamp())
            }
            AmbiguousOffset::Gap { .. } => None,
            AmbiguousOffset::Fold { before, after: second } => {
                let first = before.to_timestamp(dt).ok()?;
                if first > after {
                    Some(first)
                } else if !cron.fixed_time() {
                    second.to_timestamp(dt).ok()
                } else {
                    None
                }
            }
        };
        match at.filter(|t| *t > after) {
            Some(t) => break t,
            None => from = c.next_second()?,
        }
    };
    Some(best.map_or(found, |b: Timestamp| b.min(found)))
}

/// When `after` lies in the first pass of a repeated hour: the repeated wall-clock times
/// `[start, end)` and the offset of their second pass.
fn first_pass_of_fold(zone: &TimeZone, after: Timestamp, offset: Offset) -> Option<(Civil, Civil, Offset)> {
    let next = zone.following(after).next()?;
    let later = next.offset();
    if later >= offset {
        return None;
    }
    let start = Civil::of(later.to_datetime(next.timestamp()));
    let end = Civil::of(offset.to_datetime(next.timestamp()));
    (Civil::of(offset.to_datetime(after)) >= start).then_some((start, end, later))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cron(pattern: &str, zone: &str) -> Timing {
        Timing::Cron { cron: Cron::parse(pattern).unwrap(), zone: TimeZone::get(zone).unwrap() }
    }

    fn ms(text: &str) -> u64 {
        text.parse::<Timestamp>().unwrap().as_millisecond() as u64
    }

    fn text(ms: u64, zone: &str) -> String {
        Timestamp::from_millisecond(ms as i64)
            .unwrap()
            .to_zoned_datetime(TimeZone::get(zone).unwrap())
            .to_string()
    }

    /// The next `n` firings after `from`, as zoned text.
    fn firings(t: &Timing, from: &str, n: usize, zone: &str) -> Vec<String> {
        let mut at = ms(from);
        (0..n)
            .map(|_| {
                at = t.next_after(at).unwrap();
                text(at, zone)
            })
            .collect()
    }

    #[test]
    fn intervals_are_multiples_from_the_epoch() {
        let t = Timing::Every { ms: 5_000 };
        assert_eq!(t.next_after(0), Some(5_000));
        assert_eq!(t.next_after(4_999), Some(5_000));
        assert_eq!(t.next_after(5_000), Some(10_000));
        assert_eq!(t.latest_between(1_000, 21_000, 10), (vec![5_000, 10_000, 15_000, 20_000], false));
        assert_eq!(t.latest_between(1_000, 21_000, 2), (vec![15_000, 20_000], true));
        assert_eq!(t.latest_between(20_000, 21_000, 2), (vec![], false));
    }

    #[test]
    fn a_pattern_in_a_zone() {
        let t = cron("0 9 * * *", "Asia/Tokyo");
        assert_eq!(
            firings(&t, "2026-01-10T00:00:00Z", 2, "Asia/Tokyo"),
            ["2026-01-11T09:00:00+09:00[Asia/Tokyo]", "2026-01-12T09:00:00+09:00[Asia/Tokyo]"]
        );
        // Strictly after: a firing's own instant gives the next one.
        assert_eq!(t.next_after(ms("2026-01-11T00:00:00Z")), Some(ms("2026-01-12T00:00:00Z")));
    }

    #[test]
    fn spring_forward_runs_a_fixed_time_at_the_gap_end_and_skips_what_does_not_exist() {
        // Europe/Paris, 2026-03-29: 02:00 CET becomes 03:00 CEST.
        let fixed = cron("30 2 * * *", "Europe/Paris");
        assert_eq!(
            firings(&fixed, "2026-03-28T12:00:00Z", 3, "Europe/Paris"),
            [
                "2026-03-29T03:00:00+02:00[Europe/Paris]",
                "2026-03-30T02:30:00+02:00[Europe/Paris]",
                "2026-03-31T02:30:00+02:00[Europe/Paris]"
            ]
        );
        let every = cron("*/30 * * * *", "Europe/Paris");
        assert_eq!(
            firings(&every, "2026-03-29T00:15:00Z", 3, "Europe/Paris"),
            [
                "2026-03-29T01:30:00+01:00[Europe/Paris]",
                "2026-03-29T03:00:00+02:00[Europe/Paris]",
                "2026-03-29T03:30:00+02:00[Europe/Paris]"
            ]
        );
    }

    #[test]
    fn fall_back_runs_a_fixed_time_once_and_a_pattern_in_both_passes() {
        // America/New_York, 2026-11-01: 02:00 EDT becomes 01:00 EST.
        let fixed = cron("30 1 * * *", "America/New_York");
        assert_eq!(
            firings(&fixed, "2026-10-31T12:00:00Z", 3, "America/New_York"),
            [
                "2026-11-01T01:30:00-04:00[America/New_York]",
                "2026-11-02T01:30:00-05:00[America/New_York]",
                "2026-11-03T01:30:00-05:00[America/New_York]"
            ]
        );
        let every = cron("*/30 1 * * *", "America/New_York");
        assert_eq!(
            firings(&every, "2026-11-01T04:00:00Z", 5, "America/New_York"),
            [
                "2026-11-01T01:00:00-04:00[America/New_York]",
                "2026-11-01T01:30:00-04:00[America/New_York]",
                "2026-11-01T01:00:00-05:00[America/New_York]",
                "2026-11-01T01:30:00-05:00[America/New_York]",
                "2026-11-02T01:00:00-05:00[America/New_York]"
            ]
        );
    }

    #[test]
    fn the_latest_slots_of_a_pattern_however_far_back() {
        let t = cron("0 * * * * *", "UTC");
        let (slots, more) = t.latest_between(ms("2020-01-01T00:00:00Z"), ms("2026-01-01T00:10:30Z"), 3);
        assert!(more);
        assert_eq!(
            slots,
            [ms("2026-01-01T00:08:00Z"), ms("2026-01-01T00:09:00Z"), ms("2026-01-01T00:10:00Z")]
        );
        let (slots, more) = t.latest_between(ms("2026-01-01T00:07:00Z"), ms("2026-01-01T00:10:30Z"), 10);
        assert!(!more);
        assert_eq!(slots.len(), 3);
        // A yearly pattern reaches back over doubling windows.
        let t = cron("0 0 1 1 *", "UTC");
        let (slots, more) = t.latest_between(ms("2019-06-01T00:00:00Z"), ms("2026-06-01T00:00:00Z"), 100);
        assert!(!more);
        assert_eq!(slots.len(), 7);
    }
}
