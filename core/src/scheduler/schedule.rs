//! [`Schedule`]: a name, when it fires (a cron pattern in a time zone, or an interval), the queue
//! its firings go to and what to do with runs missed while nothing ran; and [`ScheduleSpec`], the
//! same as plain data (`cronJobs:` in `omnitron.yaml`, the doors' decorators), checked here once.

use std::time::Duration;

use bytes::Bytes;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::cron::{Cron, PATTERN_RULE};
use super::timing::Timing;
use crate::error::{Error, ErrorCode, Result};
use crate::queue::{JobOptions, NewJob};

/// The queue firings go to unless a schedule names another.
pub const DEFAULT_QUEUE: &str = "cron";

/// The most runs [`Missed::All`] adds at once; older missed runs are passed over, with a warning.
pub const MAX_CATCH_UP: usize = 1_000;

/// The shortest interval.
const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// What to do with the runs a schedule missed while no instance was running it (the application
/// was down, or between two leaders). A run is missed when its time is more than the scheduler's
/// grace (1 s by default) in the past by the time a leader gets to it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Missed {
    /// Pass them over: the next run is the next one due.
    Skip,
    /// Run once for all of them, as the latest missed run (the default: a daily report is not
    /// lost because the application restarted at midnight, and a backlog does not run 100 times).
    #[default]
    Once,
    /// Run each of them, oldest first; at most the latest [`MAX_CATCH_UP`], the older ones passed
    /// over with a warning.
    All,
}

impl Missed {
    /// Parses `skip`, `once` or `all`; `what` names the option in the error (`Q011`).
    pub fn parse(text: &str, what: &str) -> Result<Missed> {
        match text.trim().to_ascii_lowercase().as_str() {
            "skip" => Ok(Missed::Skip),
            "once" => Ok(Missed::Once),
            "all" => Ok(Missed::All),
            _ => Err(invalid(format!(
                "{what}: '{text}' is not a missed-run policy; write 'skip' (pass missed runs over), 'once' (run once for them, the default) or 'all' (run each, at most {MAX_CATCH_UP})"
            ))),
        }
    }

    /// `skip`, `once` or `all`.
    pub fn as_str(self) -> &'static str {
        match self {
            Missed::Skip => "skip",
            Missed::Once => "once",
            Missed::All => "all",
        }
    }
}

fn invalid(message: String) -> Error {
    Error::new(ErrorCode::InvalidSchedule, message)
}

/// A schedule. Made with [`Schedule::cron`] or [`Schedule::every`], then adjusted:
///
/// ```
/// # fn main() -> omnitron::Result<()> {
/// use omnitron::scheduler::{Missed, Schedule};
///
/// let report = Schedule::cron("daily-report", "0 6 * * *")?.timezone("Europe/Paris")?.missed(Missed::Once);
/// let ping = Schedule::every("ping", std::time::Duration::from_secs(30))?.queue("health");
/// assert_eq!(report.queue_name(), "cron");
/// assert_eq!(ping.next_after(1_000), Some(30_000));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Schedule {
    name: String,
    timing: Timing,
    /// The pattern as written (empty for an interval).
    pattern: String,
    queue: String,
    missed: Missed,
    data: Bytes,
    job: JobOptions,
}

/// Letters, digits, `-`, `_`, `.`, `:` and `/`, 1 to 128 of them: a schedule's name is part of
/// its firings' job ids (`cron:<name>:<slot>`) and of store keys.
fn check_name(name: &str, what: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/'));
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "{what}: '{name}' is not a schedule name; use 1 to 128 letters, digits, '-', '_', '.', ':' or '/' (it is part of each firing's job id)"
        )))
    }
}

/// MessagePack nil: the data of a firing whose schedule sets none.
const NIL: &[u8] = &[0xc0];

impl Schedule {
    /// A cron pattern (5 fields, or 6 with seconds first), read in UTC until
    /// [`timezone`](Self::timezone) says otherwise.
    pub fn cron(name: &str, pattern: &str) -> Result<Schedule> {
        check_name(name, "schedule name")?;
        Schedule::cron_at(name, pattern, &format!("schedule '{name}' pattern"))
    }

    fn cron_at(name: &str, pattern: &str, what: &str) -> Result<Schedule> {
        let cron = Cron::parse(pattern).map_err(|e| {
            invalid(format!("{what}: '{pattern}' is not a cron pattern ({e}); {PATTERN_RULE}"))
        })?;
        Ok(Schedule::new(name, Timing::Cron { cron, zone: TimeZone::UTC }, pattern))
    }

    /// Every `interval` (at least 1 s, whole milliseconds). The slots are multiples of the
    /// interval since the Unix epoch, so every instance agrees on them whenever it started: every
    /// 5 s fires at :00, :05, :10 and so on.
    pub fn every(name: &str, interval: Duration) -> Result<Schedule> {
        check_name(name, "schedule name")?;
        Schedule::every_at(name, interval, &format!("schedule '{name}' every"))
    }

    fn every_at(name: &str, interval: Duration, what: &str) -> Result<Schedule> {
        if interval < MIN_INTERVAL || !interval.subsec_nanos().is_multiple_of(1_000_000) {
            return Err(invalid(format!(
                "{what}: {interval:?} is not an interval; it must be at least 1s and a whole number of milliseconds"
            )));
        }
        let ms = u64::try_from(interval.as_millis())
            .map_err(|_| invalid(format!("{what}: {interval:?} is too long")))?;
        Ok(Schedule::new(name, Timing::Every { ms }, ""))
    }

    fn new(name: &str, timing: Timing, pattern: &str) -> Schedule {
        Schedule {
            name: name.to_string(),
            timing,
            pattern: pattern.trim().to_string(),
            queue: DEFAULT_QUEUE.to_string(),
            missed: Missed::default(),
            data: Bytes::from_static(NIL),
            job: JobOptions::default(),
        }
    }

    /// Reads the pattern in an IANA time zone (`Europe/Paris`, `America/New_York`; `UTC` is the
    /// default). An interval has no zone: its slots are instants.
    pub fn timezone(self, zone: &str) -> Result<Schedule> {
        let what = format!("schedule '{}' timezone", self.name);
        self.timezone_at(zone, &what)
    }

    fn timezone_at(mut self, zone: &str, what: &str) -> Result<Schedule> {
        let Timing::Cron { cron, .. } = self.timing else {
            return Err(invalid(format!(
                "{what}: an interval has no time zone (its slots are multiples of it since the Unix epoch); set one on a cron pattern"
            )));
        };
        self.timing = Timing::Cron { cron, zone: lookup_zone(zone, what)? };
        Ok(self)
    }

    /// The queue its firings go to (default `cron`; checked when the scheduler starts).
    pub fn queue(mut self, queue: &str) -> Schedule {
        self.queue = queue.to_string();
        self
    }

    /// What to do with missed runs (default [`Missed::Once`]).
    pub fn missed(mut self, missed: Missed) -> Schedule {
        self.missed = missed;
        self
    }

    /// The data of each firing's job (default none: MessagePack nil). Serialized now, so data
    /// that does not serialize is refused here (`Q008`).
    pub fn data<T: Serialize + ?Sized>(mut self, data: &T) -> Result<Schedule> {
        self.data = crate::queue::encode(data)?;
        Ok(self)
    }

    /// The data of each firing's job, already MessagePack.
    pub fn data_raw(mut self, data: Bytes) -> Schedule {
        self.data = data;
        self
    }

    /// The options of each firing's job: attempts, backoff, timeout, how long it is kept.
    pub fn job_options(mut self, options: JobOptions) -> Schedule {
        self.job = options;
        self
    }

    /// Its name: the name of each firing's job.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The queue its firings go to.
    pub fn queue_name(&self) -> &str {
        &self.queue
    }

    /// Its missed-run policy.
    pub fn missed_policy(&self) -> Missed {
        self.missed
    }

    /// Its first slot strictly after `after_ms` (ms since the Unix epoch); `None` when it has no
    /// more (past year 9999).
    pub fn next_after(&self, after_ms: u64) -> Option<u64> {
        self.timing.next_after(after_ms)
    }

    /// The id of its job for the slot `slot_ms`: `cron:<name>:<slot_ms>`. Every instance makes the
    /// same id for the same firing, so the queue holds it once.
    pub fn job_id(&self, slot_ms: u64) -> String {
        format!("cron:{}:{slot_ms}", self.name)
    }

    pub(crate) fn timing(&self) -> &Timing {
        &self.timing
    }

    /// The job for the slot `slot_ms`.
    pub(crate) fn job(&self, slot_ms: u64) -> NewJob {
        NewJob {
            id: self.job_id(slot_ms),
            name: self.name.clone(),
            data: self.data.clone(),
            priority: 0,
            run_at_ms: 0,
            opts: self.job.clone(),
        }
    }

    /// How it was written: `'0 6 * * *' Europe/Paris`, `every 30s`.
    pub fn describe(&self) -> String {
        match &self.timing {
            Timing::Cron { zone, .. } => format!("'{}' {}", self.pattern, zone.iana_name().unwrap_or("UTC")),
            Timing::Every { ms } => format!("every {:?}", Duration::from_millis(*ms)),
        }
    }

    /// Its queue's name is valid (`Q001`, as a queue's).
    pub(crate) fn check_queue(&self) -> Result<()> {
        crate::queue::check_name(&self.queue)
    }
}

/// The slot of a firing's job, read back from its id (`cron:<name>:<slot_ms>`).
pub fn slot_of(job_id: &str) -> Option<u64> {
    job_id.strip_prefix("cron:")?.rsplit_once(':')?.1.parse().ok()
}

fn lookup_zone(zone: &str, what: &str) -> Result<TimeZone> {
    TimeZone::get(zone.trim()).map_err(|_| {
        let names: Vec<String> = jiff::tz::db().available().map(|n| n.as_str().to_string()).collect();
        let hint = crate::options::closest(zone, names.iter().map(String::as_str))
            .map(|n| format!(" (did you mean '{n}'?)"))
            .unwrap_or_default();
        invalid(format!(
            "{what}: '{zone}' is not an IANA time zone{hint}; write a name from the tz database, as 'Europe/Paris', 'America/New_York' or 'UTC'"
        ))
    })
}

/// A schedule as plain data: an entry of `cronJobs:` in `omnitron.yaml`, or what a door's
/// `@Cron` / `@Interval` decorator collected. Exactly one of `pattern` and `every`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleSpec {
    /// The schedule's name (default: `handler`).
    #[serde(default)]
    pub name: Option<String>,
    /// A cron pattern, 5 or 6 fields.
    #[serde(default)]
    pub pattern: Option<String>,
    /// An interval: `30s`, `5m`, `1h`, `1d`, `1500ms` (at least 1 s).
    #[serde(default)]
    pub every: Option<String>,
    /// The pattern's IANA time zone (default `UTC`).
    #[serde(default)]
    pub timezone: Option<String>,
    /// The queue (default `cron`).
    #[serde(default)]
    pub queue: Option<String>,
    /// What runs each firing (`jobs/daily-report`): the job's name when `name` is not given.
    #[serde(default)]
    pub handler: Option<String>,
    /// `skip`, `once` (default) or `all`.
    #[serde(default)]
    pub missed: Option<String>,
    /// Each firing's job data.
    #[serde(default)]
    pub data: Option<serde_json::Value>,
}

impl ScheduleSpec {
    /// Schedules given as a JSON array of specs (what a door's `@Cron` / `@Interval` collected),
    /// `wheres[i]` naming the i-th in errors (`@Cron('61 * * * *') on Reports.hourly`).
    pub fn schedules_from_json(json: &str, wheres: &[String]) -> Result<Vec<Schedule>> {
        let specs: Vec<ScheduleSpec> =
            serde_json::from_str(json).map_err(|e| invalid(format!("a schedule: {e}")))?;
        specs
            .iter()
            .enumerate()
            .map(|(i, s)| s.schedule(wheres.get(i).map_or("a schedule", String::as_str)))
            .collect()
    }

    /// Checks the spec and makes the schedule; `at` names it in errors (`cronJobs[1]`), each
    /// error naming the field (`cronJobs[1].pattern`) and its rule.
    pub fn schedule(&self, at: &str) -> Result<Schedule> {
        let (name, name_field) = match (&self.name, &self.handler) {
            (Some(n), _) => (n.as_str(), "name"),
            (None, Some(h)) => (h.as_str(), "handler"),
            (None, None) => {
                return Err(invalid(format!(
                    "{at}: give a name (or a handler, whose path names the schedule)"
                )));
            }
        };
        check_name(name, &format!("{at}.{name_field}"))?;
        let mut schedule = match (&self.pattern, &self.every) {
            (Some(p), None) => Schedule::cron_at(name, p, &format!("{at}.pattern"))?,
            (None, Some(e)) => {
                let what = format!("{at}.every");
                let interval = crate::queue::parse_duration(e.trim()).ok_or_else(|| {
                    invalid(format!(
                        "{what}: '{e}' is not an interval; write a number and a unit, as '30s', '5m', '1h', '1d' or '1500ms' (at least 1s)"
                    ))
                })?;
                Schedule::every_at(name, interval, &what)?
            }
            (Some(_), Some(_)) => {
                return Err(invalid(format!(
                    "{at}: give pattern (a cron pattern) or every (an interval), not both"
                )));
            }
            (None, None) => {
                return Err(invalid(format!(
                    "{at}: give pattern (a cron pattern) or every (an interval, as '30s')"
                )));
            }
        };
        if let Some(zone) = &self.timezone {
            schedule = schedule.timezone_at(zone, &format!("{at}.timezone"))?;
        }
        if let Some(queue) = &self.queue {
            schedule = schedule.queue(queue);
        }
        if let Some(missed) = &self.missed {
            schedule = schedule.missed(Missed::parse(missed, &format!("{at}.missed"))?);
        }
        if let Some(data) = &self.data {
            schedule = schedule.data(data)?;
        }
        Ok(schedule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(r: Result<Schedule>) -> String {
        let e = r.unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidSchedule, "{e}");
        e.message().to_string()
    }

    #[test]
    fn errors_name_the_field_and_the_rule() {
        let m = message(Schedule::cron("hourly", "61 * * * *"));
        assert!(
            m.starts_with("schedule 'hourly' pattern: '61 * * * *' is not a cron pattern (minute '61'"),
            "{m}"
        );
        assert!(m.contains("write 5 fields"), "{m}");
        let m = message(Schedule::cron("hourly", "0 * * * *").unwrap().timezone("Europe/Pari"));
        assert!(
            m.contains("timezone: 'Europe/Pari' is not an IANA time zone (did you mean 'Europe/Paris'?)"),
            "{m}"
        );
        let m = message(Schedule::every("fast", Duration::from_millis(500)));
        assert!(m.contains("every: 500ms is not an interval; it must be at least 1s"), "{m}");
        let m = message(Schedule::every("odd", Duration::from_micros(1_500_500)));
        assert!(m.contains("whole number of milliseconds"), "{m}");
        let m = message(Schedule::every("x", Duration::from_secs(5)).unwrap().timezone("UTC"));
        assert!(m.contains("an interval has no time zone"), "{m}");
        let m = message(Schedule::cron("a b", "* * * * *"));
        assert!(m.starts_with("schedule name: 'a b' is not a schedule name"), "{m}");
        let e = Missed::parse("twice", "cronJobs[0].missed").unwrap_err();
        assert!(e.message().contains("cronJobs[0].missed: 'twice' is not a missed-run policy"), "{e}");
    }

    #[test]
    fn a_spec_as_the_config_writes_it() {
        let spec: ScheduleSpec = serde_json::from_value(
            serde_json::json!({ "pattern": "0 * * * *", "handler": "jobs/hourly-cleanup" }),
        )
        .unwrap();
        let s = spec.schedule("cronJobs[0]").unwrap();
        assert_eq!(
            (s.name(), s.queue_name(), s.missed_policy()),
            ("jobs/hourly-cleanup", "cron", Missed::Once)
        );
        assert_eq!(s.job_id(3_600_000), "cron:jobs/hourly-cleanup:3600000");
        assert_eq!(slot_of(&s.job_id(3_600_000)), Some(3_600_000));

        let spec = ScheduleSpec { name: Some("tick".into()), every: Some("5s".into()), ..Default::default() };
        assert_eq!(spec.schedule("cronJobs[1]").unwrap().next_after(7_000), Some(10_000));

        let bad = |spec: ScheduleSpec| message(spec.schedule("cronJobs[1]"));
        let m = bad(ScheduleSpec {
            name: Some("x".into()),
            pattern: Some("0 0 * * * * *".into()),
            ..Default::default()
        });
        assert!(
            m.starts_with("cronJobs[1].pattern: '0 0 * * * * *' is not a cron pattern (it has 7 fields)"),
            "{m}"
        );
        let m =
            bad(ScheduleSpec { name: Some("x".into()), every: Some("5 sec".into()), ..Default::default() });
        assert!(m.starts_with("cronJobs[1].every: '5 sec' is not an interval"), "{m}");
        let m = bad(ScheduleSpec {
            name: Some("x".into()),
            pattern: Some("* * * * *".into()),
            timezone: Some("Mars/Olympus".into()),
            ..Default::default()
        });
        assert!(m.starts_with("cronJobs[1].timezone: 'Mars/Olympus' is not an IANA time zone;"), "{m}");
        let m = bad(ScheduleSpec { pattern: Some("* * * * *".into()), ..Default::default() });
        assert!(m.contains("give a name"), "{m}");
        let m = bad(ScheduleSpec { name: Some("x".into()), ..Default::default() });
        assert!(m.contains("give pattern (a cron pattern) or every"), "{m}");
    }
}
