//! The SQL of each job operation, run by the writer thread inside its transaction (see the parent
//! module): adding, claiming within the queue's limits, finishing, renewing and reaping leases,
//! counting.

use std::time::Duration;

use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{ACTIVE, COMPLETED, DEAD, DELAYED, Effects, WAITING, sql_err};
use crate::error::{ErrorCode, Result};
use crate::queue::job::{
    Added, AttemptError, Counts, Finish, FinishAck, JobInfo, JobOptions, JobState, Leased, NewJob,
    OptionsCache, Outcome, Stalled,
};
use crate::queue::store::{Claim, Claimed};
use crate::time::now_ms;

pub(super) fn opts_text(o: &JobOptions) -> String {
    serde_json::to_string(o).unwrap_or_else(|_| "{}".into())
}

pub(super) fn opts_of(text: &str) -> JobOptions {
    serde_json::from_str(text).unwrap_or_default()
}

pub(super) fn errors_of(text: &str) -> Vec<AttemptError> {
    serde_json::from_str(text).unwrap_or_default()
}

pub(super) fn state_of(n: i64) -> JobState {
    match n {
        WAITING => JobState::Waiting,
        DELAYED => JobState::Delayed,
        ACTIVE => JobState::Active,
        COMPLETED => JobState::Completed,
        DEAD => JobState::Dead,
        // Written by a newer build: shown as dead, the state that runs nothing.
        _ => JobState::Dead,
    }
}

pub(super) const INFO_COLUMNS: &str = "id, name, data, state, attempts, errors, progress, result, opts, priority, created_ms, finished_ms, run_at";

pub(super) fn info_of(r: &Row<'_>) -> rusqlite::Result<JobInfo> {
    let state: i64 = r.get(3)?;
    let run_at: i64 = r.get(12)?;
    let now = now_ms() as i64;
    let state = if state == DELAYED && run_at <= now { JobState::Waiting } else { state_of(state) };
    Ok(JobInfo {
        id: r.get(0)?,
        name: r.get(1)?,
        data: Bytes::from(r.get::<_, Vec<u8>>(2)?),
        state,
        attempts: r.get::<_, i64>(4)? as u32,
        errors: errors_of(&r.get::<_, String>(5)?),
        progress: r.get::<_, Option<Vec<u8>>>(6)?.map(Bytes::from),
        result: r.get::<_, Option<Vec<u8>>>(7)?.map(Bytes::from),
        opts: opts_of(&r.get::<_, String>(8)?),
        priority: r.get::<_, i64>(9)? as u32,
        created_ms: r.get::<_, i64>(10)? as u64,
        finished_ms: r.get::<_, Option<i64>>(11)?.map(|v| v as u64),
    })
}

pub(super) fn add_jobs(
    c: &Connection,
    queue: &str,
    jobs: Vec<NewJob>,
    fx: &mut Effects,
) -> Result<Vec<Added>> {
    let now = now_ms();
    let mut st = c
        .prepare_cached(
            "INSERT INTO jobs (queue, id, name, state, priority, run_at, data, opts, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (queue, id) DO NOTHING",
        )
        .map_err(sql_err)?;
    let mut out = Vec::with_capacity(jobs.len());
    for j in jobs {
        let delayed = j.run_at_ms > now;
        let n = st
            .execute(params![
                queue,
                j.id,
                j.name,
                if delayed { DELAYED } else { WAITING },
                j.priority as i64,
                j.run_at_ms.max(now) as i64,
                &j.data[..],
                opts_text(&j.opts),
                now as i64,
            ])
            .map_err(sql_err)?;
        out.push(if n == 1 { Added::New } else { Added::Duplicate });
    }
    if out.contains(&Added::New) {
        fx.wake.push(queue.to_string());
    }
    Ok(out)
}

/// A queue's row: paused, its concurrency, its rate (jobs, window ms).
pub(super) struct Limits {
    pub(super) paused: bool,
    pub(super) concurrency: Option<u32>,
    pub(super) rate: Option<(u32, u64)>,
}

pub(super) fn limits_of(c: &Connection, queue: &str) -> Result<Limits> {
    let row = c
        .prepare_cached("SELECT paused, concurrency, rate_max, rate_window_ms FROM queues WHERE name = ?1")
        .map_err(sql_err)?
        .query_row([queue], |r| {
            Ok((
                r.get::<_, i64>(0)? != 0,
                r.get::<_, Option<i64>>(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, Option<i64>>(3)?,
            ))
        })
        .optional()
        .map_err(sql_err)?;
    Ok(match row {
        None => Limits { paused: false, concurrency: None, rate: None },
        Some((paused, conc, rmax, rwin)) => Limits {
            paused,
            concurrency: conc.map(|c| c as u32),
            rate: rmax.zip(rwin).map(|(m, w)| (m as u32, w as u64)),
        },
    })
}

pub(super) fn next_due(c: &Connection, queue: &str) -> Result<Option<u64>> {
    c.prepare_cached("SELECT min(run_at) FROM jobs WHERE queue = ?1 AND state = 1")
        .map_err(sql_err)?
        .query_row([queue], |r| r.get::<_, Option<i64>>(0))
        .map(|v| v.map(|v| v as u64))
        .map_err(sql_err)
}

pub(super) fn claim_jobs(c: &Connection, queue: &str, claim: &Claim) -> Result<Claimed> {
    let now = now_ms() as i64;
    let Limits { paused, concurrency, rate } = limits_of(c, queue)?;
    if paused {
        return Ok(Claimed { paused: true, ..Claimed::default() });
    }
    // Due delayed jobs (and retries past their backoff) become ready, behind the ready ones of
    // their priority that became ready earlier.
    c.prepare_cached("UPDATE jobs SET state = 0 WHERE queue = ?1 AND state = 1 AND run_at <= ?2")
        .map_err(sql_err)?
        .execute(params![queue, now])
        .map_err(sql_err)?;
    let mut n = i64::from(claim.max);
    if let Some(limit) = concurrency {
        let active: i64 = c
            .prepare_cached("SELECT count(*) FROM jobs WHERE queue = ?1 AND state = 2")
            .map_err(sql_err)?
            .query_row([queue], |r| r.get(0))
            .map_err(sql_err)?;
        n = n.min(i64::from(limit) - active);
    }
    let mut rate_wait = None;
    if let Some((max, window)) = rate {
        let since = now - window as i64;
        c.prepare_cached("DELETE FROM rate_log WHERE queue = ?1 AND at_ms <= ?2")
            .map_err(sql_err)?
            .execute(params![queue, since])
            .map_err(sql_err)?;
        let (used, oldest): (i64, Option<i64>) = c
            .prepare_cached("SELECT count(*), min(at_ms) FROM rate_log WHERE queue = ?1")
            .map_err(sql_err)?
            .query_row([queue], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(sql_err)?;
        let left = i64::from(max) - used;
        if left <= 0 {
            let wait = oldest.map_or(window as i64, |o| o + window as i64 - now).max(1);
            rate_wait = Some(Duration::from_millis(wait as u64));
        }
        n = n.min(left);
    }
    let mut jobs = Vec::new();
    if n > 0 {
        let lease_until = now + claim.lease.as_millis() as i64;
        let mut st = c
            .prepare_cached(
                "UPDATE jobs SET state = 2, attempts = attempts + 1, lease_seq = lease_seq + 1,
                        lease_until = ?1, worker = ?2
                 WHERE pk IN (SELECT pk FROM jobs WHERE queue = ?3 AND state = 0
                              ORDER BY priority, run_at, pk LIMIT ?4)
                 RETURNING id, name, data, attempts, lease_seq, opts, created_ms, priority, run_at, pk",
            )
            .map_err(sql_err)?;
        let mut options = OptionsCache::default();
        let mut rows = st
            .query_map(params![lease_until, claim.worker, queue, n], |r| {
                Ok((
                    Leased {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        data: Bytes::from(r.get::<_, Vec<u8>>(2)?),
                        attempt: r.get::<_, i64>(3)? as u32,
                        token: r.get::<_, i64>(4)? as u64,
                        opts: options.read(r.get_ref(5)?.as_bytes().map_err(rusqlite::Error::from)?),
                        created_ms: r.get::<_, i64>(6)? as u64,
                    },
                    (r.get::<_, i64>(7)?, r.get::<_, i64>(8)?, r.get::<_, i64>(9)?),
                ))
            })
            .map_err(sql_err)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql_err)?;
        // RETURNING gives no order: hand them out in the queue's.
        rows.sort_by_key(|(_, order)| *order);
        jobs = rows.into_iter().map(|(j, _)| j).collect();
        if rate.is_some() && !jobs.is_empty() {
            let mut log =
                c.prepare_cached("INSERT INTO rate_log (queue, at_ms) VALUES (?1, ?2)").map_err(sql_err)?;
            for _ in &jobs {
                log.execute(params![queue, now]).map_err(sql_err)?;
            }
        }
    }
    let limited = concurrency.is_some() || rate.is_some();
    Ok(Claimed { jobs, next_due_ms: next_due(c, queue)?, rate_wait, paused: false, limited })
}

pub(super) fn push_error(errors: &str, e: &AttemptError) -> String {
    let mut all = errors_of(errors);
    all.push(e.clone());
    serde_json::to_string(&all).unwrap_or_else(|_| "[]".into())
}

pub(super) fn finish_jobs(
    c: &Connection,
    queue: &str,
    done: Vec<Finish>,
    fx: &mut Effects,
) -> Result<Vec<FinishAck>> {
    let now = now_ms() as i64;
    let mut out = Vec::with_capacity(done.len());
    let mut wake = false;
    let mut options = OptionsCache::default();
    for f in done {
        let found = c
            .prepare_cached("SELECT pk, errors, opts FROM jobs WHERE queue = ?1 AND id = ?2 AND state = 2 AND lease_seq = ?3")
            .map_err(sql_err)?
            .query_row(params![queue, f.id, f.token as i64], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
            })
            .optional()
            .map_err(sql_err)?;
        let Some((pk, errors, opts)) = found else {
            out.push(FinishAck::LeaseLost);
            continue;
        };
        match f.outcome {
            Outcome::Completed(result) => {
                let keep = options.read(opts.as_bytes()).keep_completed_ms;
                if keep == 0 {
                    c.prepare_cached("DELETE FROM jobs WHERE pk = ?1")
                        .map_err(sql_err)?
                        .execute([pk])
                        .map_err(sql_err)?;
                } else {
                    c.prepare_cached(
                        "UPDATE jobs SET state = 3, result = ?2, finished_ms = ?3, expire_ms = ?4,
                                lease_until = NULL WHERE pk = ?1",
                    )
                    .map_err(sql_err)?
                    .execute(params![pk, &result[..], now, now + keep as i64])
                    .map_err(sql_err)?;
                }
            }
            Outcome::Retry(e, at) => {
                c.prepare_cached(
                    "UPDATE jobs SET state = 1, run_at = ?2, errors = ?3, lease_until = NULL WHERE pk = ?1",
                )
                .map_err(sql_err)?
                .execute(params![pk, at as i64, push_error(&errors, &e)])
                .map_err(sql_err)?;
                wake = true;
            }
            Outcome::Dead(e) => {
                c.prepare_cached(
                    "UPDATE jobs SET state = 4, errors = ?2, finished_ms = ?3, lease_until = NULL WHERE pk = ?1",
                )
                .map_err(sql_err)?
                .execute(params![pk, push_error(&errors, &e), now])
                .map_err(sql_err)?;
            }
            Outcome::Release => {
                c.prepare_cached(
                    "UPDATE jobs SET state = 0, attempts = attempts - 1, lease_until = NULL WHERE pk = ?1",
                )
                .map_err(sql_err)?
                .execute([pk])
                .map_err(sql_err)?;
                wake = true;
            }
        }
        out.push(FinishAck::Done);
    }
    // Completed jobs past their keep: a few per call, so no call pays for a large backlog.
    c.prepare_cached(
        "DELETE FROM jobs WHERE pk IN (SELECT pk FROM jobs WHERE queue = ?1 AND state IN (3, 4)
                                        AND expire_ms IS NOT NULL AND expire_ms <= ?2 LIMIT 256)",
    )
    .map_err(sql_err)?
    .execute(params![queue, now])
    .map_err(sql_err)?;
    if wake {
        fx.wake.push(queue.to_string());
    }
    Ok(out)
}

pub(super) fn renew_leases(
    c: &Connection,
    queue: &str,
    leases: Vec<(String, u64)>,
    lease: Duration,
) -> Result<Vec<String>> {
    let until = now_ms() as i64 + lease.as_millis() as i64;
    let mut st = c
        .prepare_cached(
            "UPDATE jobs SET lease_until = ?1 WHERE queue = ?2 AND id = ?3 AND state = 2 AND lease_seq = ?4",
        )
        .map_err(sql_err)?;
    let mut lost = Vec::new();
    for (id, token) in leases {
        if st.execute(params![until, queue, id, token as i64]).map_err(sql_err)? == 0 {
            lost.push(id);
        }
    }
    Ok(lost)
}

pub(super) fn reap_leases(
    c: &Connection,
    queue: &str,
    max_stalls: u32,
    fx: &mut Effects,
) -> Result<Vec<Stalled>> {
    let now = now_ms() as i64;
    let expired = c
        .prepare_cached(
            "SELECT pk, id, stalls, errors, attempts FROM jobs WHERE queue = ?1 AND state = 2 AND lease_until < ?2",
        )
        .map_err(sql_err)?
        .query_map(params![queue, now], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, String>(3)?, r.get::<_, i64>(4)?))
        })
        .map_err(sql_err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sql_err)?;
    let mut out = Vec::with_capacity(expired.len());
    for (pk, id, stalls, errors, attempts) in expired {
        let stalls = stalls + 1;
        if stalls > i64::from(max_stalls) {
            let e = AttemptError {
                attempt: attempts as u32,
                at_ms: now as u64,
                code: ErrorCode::LeaseLost.as_str().into(),
                message: format!("the worker running the job was lost (its lease expired) {stalls} times"),
            };
            c.prepare_cached(
                "UPDATE jobs SET state = 4, stalls = ?2, errors = ?3, finished_ms = ?4, lease_until = NULL WHERE pk = ?1",
            )
            .map_err(sql_err)?
            .execute(params![pk, stalls, push_error(&errors, &e), now])
            .map_err(sql_err)?;
            out.push(Stalled { id, requeued: false });
        } else {
            // Back to the front: the lost attempt is not counted against the job.
            c.prepare_cached(
                "UPDATE jobs SET state = 0, stalls = ?2, attempts = attempts - 1, lease_until = NULL WHERE pk = ?1",
            )
            .map_err(sql_err)?
            .execute(params![pk, stalls])
            .map_err(sql_err)?;
            out.push(Stalled { id, requeued: true });
        }
    }
    if out.iter().any(|s| s.requeued) {
        fx.wake.push(queue.to_string());
    }
    Ok(out)
}

pub(super) fn upsert_queue(c: &Connection, queue: &str) -> Result<()> {
    c.prepare_cached("INSERT INTO queues (name) VALUES (?1) ON CONFLICT (name) DO NOTHING")
        .map_err(sql_err)?
        .execute([queue])
        .map_err(sql_err)?;
    Ok(())
}

pub(super) fn count_jobs(c: &Connection, queue: &str) -> Result<Counts> {
    let now = now_ms() as i64;
    let mut counts = c
        .prepare_cached(
            "SELECT count(*) FILTER (WHERE state = 0 OR (state = 1 AND run_at <= ?2)),
                    count(*) FILTER (WHERE state = 1 AND run_at > ?2),
                    count(*) FILTER (WHERE state = 2),
                    count(*) FILTER (WHERE state = 3),
                    count(*) FILTER (WHERE state = 4)
             FROM jobs WHERE queue = ?1",
        )
        .map_err(sql_err)?
        .query_row(params![queue, now], |r| {
            Ok(Counts {
                waiting: r.get::<_, i64>(0)? as u64,
                delayed: r.get::<_, i64>(1)? as u64,
                active: r.get::<_, i64>(2)? as u64,
                completed: r.get::<_, i64>(3)? as u64,
                dead: r.get::<_, i64>(4)? as u64,
                paused: false,
            })
        })
        .map_err(sql_err)?;
    counts.paused = limits_of(c, queue)?.paused;
    Ok(counts)
}
