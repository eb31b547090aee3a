//! Each store call: its arguments as the script reads them (`lua/`), and its answer read back.
//! The calls that change several jobs at once take a nonce naming the call, so that the call
//! repeated after a lost answer answers as the first did (see the scripts).

use std::time::Duration;

use bytes::Bytes;

use super::reply::{self, array, count, int, text};
use super::{Inner, MAX_MS, scripts};
use crate::error::{Error, ErrorCode, Result};
use crate::queue::job::{Added, Counts, Finish, FinishAck, JobInfo, NewJob, OptionsCache, Outcome, Stalled};
use crate::queue::store::{Claim, Claimed, QueueLimits};
use crate::time::now_ms;

/// Jobs added by one script call: a larger batch is added in several (each atomic).
const ADD_CHUNK: usize = 1000;

/// A random token naming one call.
pub(super) fn nonce() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

fn arg(v: impl ToString) -> Vec<u8> {
    v.to_string().into_bytes()
}

/// This machine's time as a delay from now, which the scripts add to the server's clock.
fn delay_until(at_ms: u64) -> u64 {
    at_ms.saturating_sub(now_ms()).min(MAX_MS)
}

fn millis(d: Duration) -> u64 {
    (d.as_millis() as u64).clamp(1, MAX_MS)
}

/// A job's fields as `add_jobs` (lua/common.lua) reads them.
fn job_args(j: &NewJob, args: &mut Vec<Vec<u8>>) {
    args.push(arg(&j.id));
    args.push(arg(&j.name));
    args.push(j.data.to_vec());
    args.push(arg(j.priority));
    args.push(arg(if j.run_at_ms == 0 { 0 } else { delay_until(j.run_at_ms) }));
    args.push(serde_json::to_vec(&j.opts).unwrap_or_else(|_| b"{}".to_vec()));
    args.push(arg(j.opts.keep_completed_ms.min(MAX_MS)));
}

impl Inner {
    pub(super) async fn lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<Option<u64>> {
        let keys = [self.lease_key(name)];
        let token = int(&self.caller.eval(&scripts::LEASE, &keys, &[arg(holder), arg(millis(ttl))]).await?)?;
        Ok((token > 0).then_some(token as u64))
    }

    pub(super) async fn release_lease(&self, name: &str, holder: &str) -> Result<bool> {
        let keys = [self.lease_key(name)];
        Ok(int(&self.caller.eval(&scripts::RELEASE, &keys, &[arg(holder)]).await?)? == 1)
    }

    pub(super) async fn watermark(&self, schedule: &str) -> Result<Option<u64>> {
        let mut conn = self.caller.conn.clone();
        let mark: Option<String> = ::redis::cmd("HGET")
            .arg(self.schedules_key())
            .arg(schedule)
            .query_async(&mut conn)
            .await
            .map_err(|e| self.caller.failed(&e))?;
        // `<slot>:<nonce of the firing>`.
        Ok(mark.and_then(|m| m.split(':').next().and_then(|s| s.parse().ok())))
    }

    pub(super) async fn fire(
        &self,
        schedule: &str,
        slot_ms: u64,
        q: &str,
        nonce: &str,
        job: Option<NewJob>,
    ) -> Result<bool> {
        let (p, mut keys) = self.keys(q);
        keys.push(self.schedules_key());
        let mut args = vec![p.into_bytes(), arg(nonce), arg(schedule), arg(slot_ms.min(MAX_MS))];
        if let Some(j) = &job {
            job_args(j, &mut args);
        }
        Ok(int(&self.caller.eval(&scripts::FIRE, &keys, &args).await?)? == 1)
    }

    pub(super) async fn add(&self, q: &str, nonce: &str, jobs: &[NewJob]) -> Result<Vec<Added>> {
        let mut out = Vec::with_capacity(jobs.len());
        for chunk in jobs.chunks(ADD_CHUNK) {
            let mut args = vec![arg(nonce)];
            for j in chunk {
                job_args(j, &mut args);
            }
            for v in array(self.eval(&scripts::ADD, q, args).await?)? {
                out.push(if int(&v)? == 1 { Added::New } else { Added::Duplicate });
            }
        }
        Ok(out)
    }

    pub(super) async fn claim(&self, q: &str, nonce: &str, claim: &Claim) -> Result<Claimed> {
        let args = vec![arg(&claim.worker), arg(claim.max), arg(millis(claim.lease)), arg(nonce)];
        let reply = array(self.eval(&scripts::CLAIM, q, args).await?)?;
        let [paused, due, rate] = [0, 1, 2].map(|i| reply.get(i).map(int));
        let (Some(paused), Some(due), Some(rate)) = (paused, due, rate) else {
            return Err(reply::unexpected("a claim", &::redis::Value::Array(reply)));
        };
        let (paused, due, rate) = (paused?, due?, rate?);
        let mut jobs = Vec::with_capacity(reply.len() / reply::LEASED_FIELDS);
        let mut rest = reply.into_iter().skip(3);
        let mut options = OptionsCache::default();
        loop {
            let fields: Vec<_> = rest.by_ref().take(reply::LEASED_FIELDS).collect();
            if fields.is_empty() {
                break;
            }
            jobs.push(reply::leased(fields, &mut options)?);
        }
        Ok(Claimed {
            jobs,
            // The server's times, as delays, onto this machine's clock.
            next_due_ms: (due >= 0).then(|| now_ms().saturating_add(due as u64)),
            rate_wait: (rate >= 0).then(|| Duration::from_millis(rate as u64)),
            paused: paused & 1 == 1,
            limited: paused & 2 == 2,
        })
    }

    pub(super) async fn finish(&self, q: &str, nonce: &str, done: Vec<Finish>) -> Result<Vec<FinishAck>> {
        if done.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = vec![arg(nonce)];
        for f in done {
            args.push(arg(&f.id));
            args.push(arg(f.token));
            let (kind, result, error, delay) = match f.outcome {
                Outcome::Completed(result) => ("c", result.to_vec(), None, 0),
                Outcome::Retry(e, at) => ("r", Vec::new(), Some(e), delay_until(at)),
                Outcome::Dead(e) => ("x", Vec::new(), Some(e), 0),
                Outcome::Release => ("l", Vec::new(), None, 0),
            };
            args.push(arg(kind));
            args.push(result);
            match error {
                // Its time is the server's, set by the script.
                Some(e) => args.extend([arg(e.attempt), arg(e.code), arg(e.message)]),
                None => args.extend([Vec::new(), Vec::new(), Vec::new()]),
            }
            args.push(arg(delay));
        }
        array(self.eval(&scripts::FINISH, q, args).await?)?
            .iter()
            .map(|v| Ok(if int(v)? == 1 { FinishAck::Done } else { FinishAck::LeaseLost }))
            .collect()
    }

    pub(super) async fn renew(
        &self,
        q: &str,
        leases: Vec<(String, u64)>,
        lease: Duration,
    ) -> Result<Vec<String>> {
        if leases.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = vec![arg(millis(lease))];
        for (id, token) in leases {
            args.push(arg(id));
            args.push(arg(token));
        }
        array(self.eval(&scripts::RENEW, q, args).await?)?.into_iter().map(text).collect()
    }

    pub(super) async fn reap(&self, q: &str, max_stalls: u32) -> Result<Vec<Stalled>> {
        let args = vec![arg(max_stalls), arg(ErrorCode::LeaseLost.as_str())];
        let reply = array(self.eval(&scripts::REAP, q, args).await?)?;
        let mut out = Vec::with_capacity(reply.len() / 2);
        let mut it = reply.into_iter();
        while let (Some(id), Some(requeued)) = (it.next(), it.next()) {
            out.push(Stalled { id: text(id)?, requeued: int(&requeued)? == 1 });
        }
        Ok(out)
    }

    pub(super) async fn progress(&self, q: &str, id: &str, token: u64, progress: Bytes) -> Result<bool> {
        let args = vec![arg(id), arg(token), progress.to_vec()];
        Ok(int(&self.eval(&scripts::PROGRESS, q, args).await?)? == 1)
    }

    pub(super) async fn get(&self, q: &str, id: &str) -> Result<Option<JobInfo>> {
        reply::info(self.eval(&scripts::GET, q, vec![arg(id)]).await?)
    }

    pub(super) async fn remove(&self, q: &str, id: &str) -> Result<bool> {
        match int(&self.eval(&scripts::REMOVE, q, vec![arg(id)]).await?)? {
            -1 => Err(Error::new(
                ErrorCode::JobActive,
                format!("job '{id}' of queue '{q}' is running; remove it once it has finished"),
            )),
            n => Ok(n == 1),
        }
    }

    pub(super) async fn dead(&self, q: &str, offset: u64, limit: u64) -> Result<Vec<JobInfo>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let first = offset.min(i64::MAX as u64);
        let last = offset.saturating_add(limit - 1).min(i64::MAX as u64);
        let reply = array(self.eval(&scripts::DEAD, q, vec![arg(first), arg(last)]).await?)?;
        let jobs = reply.into_iter().map(reply::info).collect::<Result<Vec<_>>>()?;
        Ok(jobs.into_iter().flatten().collect())
    }

    /// `ids` empty: every dead job.
    pub(super) async fn retry_dead(&self, q: &str, ids: &[String]) -> Result<u64> {
        count(&self.eval(&scripts::RETRY_DEAD, q, ids.iter().map(arg).collect()).await?)
    }

    pub(super) async fn set_limits(&self, q: &str, limits: QueueLimits) -> Result<()> {
        let or_none = |v: Option<u64>| v.map(arg).unwrap_or_default();
        let args = vec![
            or_none(limits.concurrency.map(u64::from)),
            or_none(limits.rate.map(|(m, _)| u64::from(m))),
            or_none(limits.rate.map(|(_, w)| millis(w))),
        ];
        self.eval(&scripts::LIMITS, q, args).await.map(drop)
    }

    pub(super) async fn set_paused(&self, q: &str, paused: bool) -> Result<()> {
        self.eval(&scripts::PAUSE, q, vec![arg(u8::from(paused))]).await.map(drop)
    }

    pub(super) async fn counts(&self, q: &str) -> Result<Counts> {
        let reply = array(self.eval(&scripts::COUNTS, q, Vec::new()).await?)?;
        let n = |i: usize| reply.get(i).map_or(Ok(0), count);
        Ok(Counts {
            waiting: n(0)?,
            delayed: n(1)?,
            active: n(2)?,
            completed: n(3)?,
            dead: n(4)?,
            paused: n(5)? == 1,
        })
    }
}
