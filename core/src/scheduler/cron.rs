//! Cron patterns: parsing the text into sets of values, and finding the next civil (wall-clock)
//! time that matches. Time zones are [`super::timing`]'s concern: here a time is a calendar date
//! and a time of day, with no zone.
//!
//! Five fields (`minute hour day-of-month month day-of-week`) or six with seconds first. Each
//! field is `*`, a value, a range `a-b`, a step `*/n`, `a/n` or `a-b/n`, or a list of these joined
//! by `,`. Months and weekdays may be named (`JAN`, `MON`); Sunday is 0 or 7. `?` is `*` in the
//! two day fields. The day of the month also takes `L` (its last day), the day of the week `5L`
//! (the month's last Friday) and `5#2` (its second Friday). Nicknames: `@yearly`
//! (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`), `@hourly`.
//!
//! When both day fields are restricted (neither starts with `*` or `?`), a day matches when either
//! does, as in Vixie cron: `0 0 1,15 * MON` runs on the 1st, the 15th and every Monday.

use jiff::civil::{Date, DateTime};

/// The rule an error ends with: what a pattern looks like.
pub(crate) const PATTERN_RULE: &str = "write 5 fields (minute hour day-of-month month day-of-week) or 6 with \
     seconds first, as '0 * * * *' or '*/10 * * * * *'";

const MONTHS: [&str; 12] =
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// The years searched for a match: the Gregorian calendar repeats (weekdays included) every 400
/// years, so a pattern that matches no day in 401 years matches none ever.
const SEARCH_YEARS: i16 = 401;

/// A parsed pattern. Each set is a bit mask: bit `n` is value `n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cron {
    seconds: u64,
    minutes: u64,
    hours: u32,
    /// Days of the month, bits 1 to 31.
    days: u32,
    /// `L` in the day of the month.
    last_day: bool,
    /// Months, bits 1 to 12.
    months: u16,
    /// Weekdays, bit 0 Sunday.
    weekdays: u8,
    /// `wd#n`: the n-th such weekday of the month.
    nth_weekdays: Vec<(u8, u8)>,
    /// `wdL`: the last such weekday of the month (a mask).
    last_weekdays: u8,
    /// The day-of-month field starts with `*` or `?` (see the module's note on the two day fields).
    days_star: bool,
    weekdays_star: bool,
    /// Seconds, minutes and hours are plain values (no `*`, range or step): the pattern names
    /// times of day, which daylight saving time moves rather than drops (see `timing`).
    fixed_time: bool,
}

/// A civil time to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Civil {
    pub(crate) year: i16,
    pub(crate) month: i8,
    pub(crate) day: i8,
    pub(crate) hour: i8,
    pub(crate) minute: i8,
    pub(crate) second: i8,
}

impl Civil {
    /// `dt` truncated to the second.
    pub(crate) fn of(dt: DateTime) -> Civil {
        Civil {
            year: dt.year(),
            month: dt.month(),
            day: dt.day(),
            hour: dt.hour(),
            minute: dt.minute(),
            second: dt.second(),
        }
    }

    pub(crate) fn datetime(self) -> DateTime {
        DateTime::constant(self.year, self.month, self.day, self.hour, self.minute, self.second, 0)
    }

    /// One second later (`None` past the calendar's end, year 9999).
    pub(crate) fn next_second(self) -> Option<Civil> {
        let mut c = self;
        c.second += 1;
        if c.second < 60 {
            return Some(c);
        }
        c.second = 0;
        c.minute += 1;
        if c.minute < 60 {
            return Some(c);
        }
        c.minute = 0;
        c.hour += 1;
        if c.hour < 24 {
            return Some(c);
        }
        c.next_day()
    }

    /// Midnight of the next day.
    fn next_day(self) -> Option<Civil> {
        let (mut year, mut month, mut day) = (self.year, self.month, self.day + 1);
        if day > days_in_month(year, month) {
            day = 1;
            month += 1;
            if month > 12 {
                month = 1;
                year = year.checked_add(1).filter(|y| *y <= 9999)?;
            }
        }
        Some(Civil { year, month, day, hour: 0, minute: 0, second: 0 })
    }
}

fn days_in_month(year: i16, month: i8) -> i8 {
    Date::constant(year, month, 1).days_in_month()
}

fn weekday(year: i16, month: i8, day: i8) -> u8 {
    Date::constant(year, month, day).weekday().to_sunday_zero_offset() as u8
}

/// The lowest value in `mask` at or above `from`.
fn next_in(mask: u64, from: i8) -> Option<i8> {
    if !(0..64).contains(&from) {
        return None;
    }
    let above = mask >> from;
    (above != 0).then(|| from + above.trailing_zeros() as i8)
}

/// One field's rules: its name in errors, its range, the names it takes.
struct Field {
    name: &'static str,
    min: u8,
    max: u8,
    names: &'static [&'static str],
    /// The first name's value (1 for months, 0 for weekdays).
    names_from: u8,
}

const SECOND: Field = Field { name: "second", min: 0, max: 59, names: &[], names_from: 0 };
const MINUTE: Field = Field { name: "minute", min: 0, max: 59, names: &[], names_from: 0 };
const HOUR: Field = Field { name: "hour", min: 0, max: 23, names: &[], names_from: 0 };
const DAY: Field = Field { name: "day-of-month", min: 1, max: 31, names: &[], names_from: 0 };
const MONTH: Field = Field { name: "month", min: 1, max: 12, names: &MONTHS, names_from: 1 };
// 7 is Sunday too; folded into 0 once parsed.
const WEEKDAY: Field = Field { name: "day-of-week", min: 0, max: 7, names: &WEEKDAYS, names_from: 0 };

impl Field {
    fn value(&self, text: &str) -> Result<u8, String> {
        let upper = text.to_ascii_uppercase();
        if let Some(i) = self.names.iter().position(|n| *n == upper) {
            return Ok(self.names_from + i as u8);
        }
        let n: u32 = text.parse().map_err(|_| {
            if self.names.is_empty() {
                format!("'{text}' is not a number")
            } else {
                format!(
                    "'{text}' is not a number or a name ({}-{})",
                    self.names[0],
                    self.names[self.names.len() - 1]
                )
            }
        })?;
        if n < u32::from(self.min) || n > u32::from(self.max) {
            return Err(format!("{n} is out of range {}-{}", self.min, self.max));
        }
        Ok(n as u8)
    }

    /// `*`, `a`, `a-b`, each with an optional `/step`, into a mask.
    fn item(&self, item: &str) -> Result<u64, String> {
        let (base, step) = match item.split_once('/') {
            Some((b, s)) => {
                let step: u32 = s.parse().map_err(|_| format!("the step '{s}' is not a number"))?;
                if step == 0 {
                    return Err("a step must be at least 1".into());
                }
                (b, Some(step))
            }
            None => (item, None),
        };
        let days = self.name == DAY.name || self.name == WEEKDAY.name;
        let (lo, hi) = if base == "*" || (base == "?" && days) {
            (self.min, self.max)
        } else if let Some((a, b)) = base.split_once('-') {
            let (lo, hi) = (self.value(a)?, self.value(b)?);
            if lo > hi {
                return Err(format!("the range {base} is reversed; write the smaller value first"));
            }
            (lo, hi)
        } else {
            let v = self.value(base)?;
            // `a/n` runs from a to the field's end.
            (v, if step.is_some() { self.max } else { v })
        };
        let step = step.unwrap_or(1) as usize;
        Ok((lo..=hi).step_by(step).fold(0u64, |m, v| m | 1 << v))
    }

    /// A whole field: items joined by `,`.
    fn mask(&self, text: &str) -> Result<u64, String> {
        text.split(',').try_fold(0u64, |m, item| {
            if item.is_empty() {
                return Err("an empty item in a list".to_string());
            }
            Ok(m | self.item(item).map_err(|e| format!("{} '{item}': {e}", self.name))?)
        })
    }
}

/// A field is restricted unless it starts with `*` or `?` (Vixie cron's rule for the day fields).
fn starred(text: &str) -> bool {
    text.starts_with('*') || text.starts_with('?')
}

/// Plain values only: the field names times, not a pattern of them.
fn plain(text: &str) -> bool {
    !text.contains(['*', '?', '-', '/'])
}

fn nickname(text: &str) -> Result<&'static str, String> {
    Ok(match text.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        _ => {
            return Err(format!(
                "'{text}' is not a nickname (@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)"
            ));
        }
    })
}

impl Cron {
    /// Parses a pattern; the error says what is wrong with which field (the caller adds the
    /// option's name and [`PATTERN_RULE`]).
    pub(crate) fn parse(pattern: &str) -> Result<Cron, String> {
        let text = pattern.trim();
        let text = if text.starts_with('@') { nickname(text)? } else { text };
        let fields: Vec<&str> = text.split_ascii_whitespace().collect();
        let (sec, rest) = match fields.len() {
            5 => ("0", &fields[..]),
            6 => (fields[0], &fields[1..]),
            0 => return Err("it is empty".into()),
            n => return Err(format!("it has {n} fields")),
        };
        let [min, hour, dom, month, dow] = [rest[0], rest[1], rest[2], rest[3], rest[4]];
        let (days, last_day) = day_of_month(dom)?;
        let Weekdays { mask: weekdays, nth: nth_weekdays, last: last_weekdays } = day_of_week(dow)?;
        let cron = Cron {
            seconds: SECOND.mask(sec)?,
            minutes: MINUTE.mask(min)?,
            hours: HOUR.mask(hour)? as u32,
            days,
            last_day,
            months: MONTH.mask(month)? as u16,
            weekdays,
            nth_weekdays,
            last_weekdays,
            days_star: starred(dom),
            weekdays_star: starred(dow),
            fixed_time: plain(sec) && plain(min) && plain(hour),
        };
        // `0 0 30 2 *`: parsed, but no day ever matches.
        let start = Civil { year: 2000, month: 1, day: 1, hour: 0, minute: 0, second: 0 };
        if cron.first_from(start).is_none() {
            return Err("it matches no date (as February 30)".into());
        }
        Ok(cron)
    }

    /// Seconds, minutes and hours are plain values.
    pub(crate) fn fixed_time(&self) -> bool {
        self.fixed_time
    }

    fn day_matches(&self, year: i16, month: i8, day: i8) -> bool {
        let dim = days_in_month(year, month);
        let dom = self.days & (1 << day) != 0 || (self.last_day && day == dim);
        let wd = weekday(year, month, day);
        let dow = self.weekdays & (1 << wd) != 0
            || self.nth_weekdays.iter().any(|&(w, n)| w == wd && (day as u8 - 1) / 7 + 1 == n)
            || (self.last_weekdays & (1 << wd) != 0 && day + 7 > dim);
        if self.days_star || self.weekdays_star { dom && dow } else { dom || dow }
    }

    /// The first matching civil time at or after `from`, searching [`SEARCH_YEARS`] years.
    pub(crate) fn first_from(&self, from: Civil) -> Option<Civil> {
        let until = from.year.saturating_add(SEARCH_YEARS).min(9999);
        let mut c = from;
        loop {
            if c.year > until {
                return None;
            }
            if self.months & (1 << c.month) == 0 {
                // The next month that matches: later this year, or the first one next year.
                match next_in(u64::from(self.months), c.month + 1).filter(|m| *m <= 12) {
                    Some(m) => c.month = m,
                    None => {
                        c.year = c.year.checked_add(1).filter(|y| *y <= 9999)?;
                        c.month = next_in(u64::from(self.months), 1)?;
                    }
                }
                (c.day, c.hour, c.minute, c.second) = (1, 0, 0, 0);
                continue;
            }
            if !self.day_matches(c.year, c.month, c.day) {
                c = c.next_day()?;
                continue;
            }
            let Some(hour) = next_in(u64::from(self.hours), c.hour) else {
                c = c.next_day()?;
                continue;
            };
            if hour != c.hour {
                (c.hour, c.minute, c.second) = (hour, 0, 0);
            }
            let Some(minute) = next_in(self.minutes, c.minute) else {
                // Past this hour's last match: the next hour (24 means the next day, above).
                (c.hour, c.minute, c.second) = (c.hour + 1, 0, 0);
                if c.hour == 24 {
                    c = c.next_day()?;
                }
                continue;
            };
            if minute != c.minute {
                (c.minute, c.second) = (minute, 0);
            }
            match next_in(self.seconds, c.second) {
                Some(second) => {
                    c.second = second;
                    return Some(c);
                }
                None => {
                    (c.minute, c.second) = (c.minute + 1, 0);
                    if c.minute == 60 {
                        (c.hour, c.minute) = (c.hour + 1, 0);
                        if c.hour == 24 {
                            c = c.next_day()?;
                        }
                    }
                }
            }
        }
    }
}

/// The day of the month: the usual items, or `L` (the month's last day) among them.
fn day_of_month(text: &str) -> Result<(u32, bool), String> {
    let mut last = false;
    let mut plain = Vec::new();
    for item in text.split(',') {
        if item.eq_ignore_ascii_case("L") {
            last = true;
        } else if item.to_ascii_uppercase().contains(['L', 'W']) {
            return Err(format!(
                "day-of-month '{item}': only 'L' alone is supported (the last day); 'W' is not"
            ));
        } else {
            plain.push(item);
        }
    }
    let days = if plain.is_empty() { 0 } else { DAY.mask(&plain.join(","))? as u32 };
    Ok((days, last))
}

/// A day-of-week field: plain weekdays, `wd#n` and `wdL` (masks, bit 0 Sunday).
struct Weekdays {
    mask: u8,
    nth: Vec<(u8, u8)>,
    last: u8,
}

/// The day of the week: the usual items, `wdL` (the month's last such weekday) and `wd#n` (its
/// n-th). Sunday is 0 or 7.
fn day_of_week(text: &str) -> Result<Weekdays, String> {
    let mut nth = Vec::new();
    let mut last = 0u8;
    let mut plain = Vec::new();
    let fold = |v: u8| if v == 7 { 0 } else { v };
    for item in text.split(',') {
        let err = |e: String| format!("day-of-week '{item}': {e}");
        if let Some((wd, n)) = item.split_once('#') {
            let wd = fold(WEEKDAY.value(wd).map_err(err)?);
            let n: u8 = n.parse().ok().filter(|n| (1..=5).contains(n)).ok_or_else(|| {
                err(format!("'#{n}' must be #1 to #5 (the first to the fifth such day of the month)"))
            })?;
            nth.push((wd, n));
        } else if item.len() > 1
            && item.to_ascii_uppercase().ends_with('L')
            && !item.contains(['-', '/', '*'])
        {
            last |= 1 << fold(WEEKDAY.value(&item[..item.len() - 1]).map_err(err)?);
        } else {
            plain.push(item);
        }
    }
    let mask = if plain.is_empty() { 0 } else { WEEKDAY.mask(&plain.join(","))? };
    // 7 is Sunday.
    let mask = (mask & 0x7f) as u8 | ((mask >> 7) & 1) as u8;
    Ok(Weekdays { mask, nth, last })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn civil(s: &str) -> Civil {
        Civil::of(s.parse::<DateTime>().unwrap())
    }

    fn next(pattern: &str, from: &str) -> String {
        let c = Cron::parse(pattern).unwrap().first_from(civil(from)).unwrap();
        c.datetime().to_string()
    }

    #[test]
    fn five_and_six_fields() {
        assert_eq!(next("0 * * * *", "2026-03-01T10:00:01"), "2026-03-01T11:00:00");
        assert_eq!(next("0 * * * *", "2026-03-01T10:00:00"), "2026-03-01T10:00:00");
        assert_eq!(next("*/15 * * * * *", "2026-03-01T10:00:01"), "2026-03-01T10:00:15");
        assert_eq!(next("30 59 23 31 12 *", "2026-03-01T00:00:00"), "2026-12-31T23:59:30");
        assert_eq!(next("0 0 29 2 *", "2026-03-01T00:00:00"), "2028-02-29T00:00:00");
        assert_eq!(next("0 9 * * MON-FRI", "2026-03-07T10:00:00"), "2026-03-09T09:00:00");
        assert_eq!(next("0 0 * * 7", "2026-03-02T00:00:00"), "2026-03-08T00:00:00");
        assert_eq!(next("5/20 * * * *", "2026-03-01T00:06:00"), "2026-03-01T00:25:00");
        assert_eq!(next("0 10-12/2 * jan,Jul *", "2026-03-01T00:00:00"), "2026-07-01T10:00:00");
        assert_eq!(next("@monthly", "2026-03-01T00:00:01"), "2026-04-01T00:00:00");
    }

    #[test]
    fn the_two_day_fields() {
        // Both restricted: either matches (the 15th, or a Monday).
        assert_eq!(next("0 0 15 * MON", "2026-03-03T00:00:00"), "2026-03-09T00:00:00");
        assert_eq!(next("0 0 15 * MON", "2026-03-10T00:00:00"), "2026-03-15T00:00:00");
        // One starred: both must match (an odd day that is a Monday).
        assert_eq!(next("0 0 */2 * 1", "2026-03-03T00:00:00"), "2026-03-09T00:00:00");
        assert_eq!(next("0 0 L * *", "2026-02-02T00:00:00"), "2026-02-28T00:00:00");
        assert_eq!(next("0 0 ? * 5L", "2026-03-01T00:00:00"), "2026-03-27T00:00:00");
        assert_eq!(next("0 0 ? * FRI#2", "2026-03-01T00:00:00"), "2026-03-13T00:00:00");
    }

    #[test]
    fn errors_name_the_field_and_the_value() {
        let cases = [
            ("61 * * * *", "minute '61': 61 is out of range 0-59"),
            ("* * * *", "it has 4 fields"),
            ("0 25 * * *", "hour '25'"),
            ("0 0 0 * *", "day-of-month '0': 0 is out of range 1-31"),
            ("0 0 * 13 *", "month '13'"),
            ("0 0 * FOO *", "not a number or a name (JAN-DEC)"),
            ("0 0 * * 8", "day-of-week '8'"),
            ("*/0 * * * *", "a step must be at least 1"),
            ("5-2 * * * *", "the range 5-2 is reversed"),
            ("0 0 30 2 *", "matches no date"),
            ("0 0 LW * *", "'W' is not"),
            ("0 0 * * 5#6", "#1 to #5"),
            ("@reboot", "not a nickname"),
            ("", "it is empty"),
            ("? * * * *", "minute '?': '?' is not a number"),
            ("1,,2 * * * *", "an empty item"),
        ];
        for (pattern, want) in cases {
            let e = Cron::parse(pattern).unwrap_err();
            assert!(e.contains(want), "{pattern}: {e}");
        }
    }

    #[test]
    fn fixed_times_of_day() {
        assert!(Cron::parse("30 2 * * *").unwrap().fixed_time());
        assert!(Cron::parse("0 30 2,14 * * *").unwrap().fixed_time());
        assert!(!Cron::parse("*/5 2 * * *").unwrap().fixed_time());
        assert!(!Cron::parse("0 1-3 * * *").unwrap().fixed_time());
    }
}
