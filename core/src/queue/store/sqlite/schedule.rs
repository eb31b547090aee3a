//! The scheduler's records in the embedded store: leases (`leases`) and schedule watermarks
//! (`schedules`). Each function runs in the writer's transaction, so a read and the write that
//! depends on it are one atomic step, across every process sharing the file.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use super::{Effects, add_jobs, sql_err};
use crate::error::{Error, ErrorCode, Result};
use crate::queue::job::NewJob;
use crate::time::now_ms;

fn ms(v: u64, what: &str) -> Result<i64> {
    i64::try_from(v).map_err(|_| {
        Error::new(ErrorCode::InvalidSchedule, format!("{what}: {v} is past the year 292 million"))
    })
}

pub(super) fn lease(c: &Connection, name: &str, holder: &str, ttl: Duration) -> Result<Option<u64>> {
    let now = now_ms() as i64;
    let until = now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
    let row = c
        .prepare_cached("SELECT holder, token, until_ms FROM leases WHERE name = ?1")
        .map_err(sql_err)?
        .query_row([name], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))
        .optional()
        .map_err(sql_err)?;
    let token = match row {
        None => 1,
        Some((h, token, _)) if h == holder => token,
        // Another holder's lease has run out: it changes hands.
        Some((_, token, until_ms)) if until_ms <= now => token + 1,
        Some(_) => return Ok(None),
    };
    c.prepare_cached(
        "INSERT INTO leases (name, holder, token, until_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, token = excluded.token,
                                          until_ms = excluded.until_ms",
    )
    .map_err(sql_err)?
    .execute(params![name, holder, token, until])
    .map_err(sql_err)?;
    Ok(Some(token as u64))
}

pub(super) fn release_lease(c: &Connection, name: &str, holder: &str) -> Result<bool> {
    c.prepare_cached("UPDATE leases SET until_ms = 0 WHERE name = ?1 AND holder = ?2")
        .map_err(sql_err)?
        .execute(params![name, holder])
        .map(|n| n == 1)
        .map_err(sql_err)
}

pub(super) fn watermark(c: &Connection, schedule: &str) -> Result<Option<u64>> {
    c.prepare_cached("SELECT slot_ms FROM schedules WHERE name = ?1")
        .map_err(sql_err)?
        .query_row([schedule], |r| r.get::<_, i64>(0))
        .optional()
        .map(|v| v.map(|v| v as u64))
        .map_err(sql_err)
}

pub(super) fn fire(
    c: &Connection,
    schedule: &str,
    slot_ms: u64,
    queue: &str,
    job: Option<NewJob>,
    fx: &mut Effects,
) -> Result<bool> {
    let slot = ms(slot_ms, "slot")?;
    // Only a later slot moves the watermark: the upsert's WHERE leaves an equal or later one be.
    let moved = c
        .prepare_cached(
            "INSERT INTO schedules (name, slot_ms, fired_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET slot_ms = excluded.slot_ms, fired_ms = excluded.fired_ms
             WHERE excluded.slot_ms > schedules.slot_ms",
        )
        .map_err(sql_err)?
        .execute(params![schedule, slot, now_ms() as i64])
        .map_err(sql_err)?
        == 1;
    if moved && let Some(job) = job {
        add_jobs(c, queue, vec![job], fx)?;
    }
    Ok(moved)
}
