//! The scripts' answers read into the queue's types. A reply that does not have the shape the
//! script gives is an error (`Q002`), never a panic: a key written by something else may be read.

use ::redis::Value;
use bytes::Bytes;

use crate::error::{Error, ErrorCode, Result};
use crate::queue::job::{AttemptError, JobInfo, JobOptions, JobState, Leased, OptionsCache};

pub(super) fn unexpected(what: &str, v: &Value) -> Error {
    Error::new(
        ErrorCode::QueueStoreFailed,
        format!(
            "queue store: Redis answered {v:?} where {what} was expected; are the keys under this prefix written by another program?"
        ),
    )
}

pub(super) fn array(v: Value) -> Result<Vec<Value>> {
    match v {
        Value::Array(a) => Ok(a),
        Value::Nil => Ok(Vec::new()),
        v => Err(unexpected("an array", &v)),
    }
}

pub(super) fn int(v: &Value) -> Result<i64> {
    match v {
        Value::Int(n) => Ok(*n),
        Value::BulkString(b) => {
            std::str::from_utf8(b).ok().and_then(|s| s.parse().ok()).ok_or_else(|| unexpected("a number", v))
        }
        v => Err(unexpected("a number", v)),
    }
}

/// A whole number that cannot be negative (a count, a time, an attempt).
pub(super) fn count(v: &Value) -> Result<u64> {
    int(v).map(|n| n.max(0) as u64)
}

pub(super) fn bytes(v: Value) -> Result<Option<Bytes>> {
    match v {
        Value::BulkString(b) => Ok(Some(Bytes::from(b))),
        Value::Nil => Ok(None),
        v => Err(unexpected("a string", &v)),
    }
}

pub(super) fn text(v: Value) -> Result<String> {
    match v {
        Value::BulkString(b) => {
            String::from_utf8(b).map_err(|e| unexpected("text", &Value::BulkString(e.into_bytes())))
        }
        Value::SimpleString(s) => Ok(s),
        v => Err(unexpected("text", &v)),
    }
}

fn opts_of(v: Value) -> Result<JobOptions> {
    // As the embedded store reads them: options written by a newer build fall back to defaults.
    Ok(bytes(v)?.and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default())
}

fn state_of(v: Value) -> Result<JobState> {
    Ok(match text(v)?.as_str() {
        "w" => JobState::Waiting,
        "d" => JobState::Delayed,
        "a" => JobState::Active,
        "c" => JobState::Completed,
        // `x`, or written by a newer build: shown as dead, the state that runs nothing.
        _ => JobState::Dead,
    })
}

/// The 7 fields `claim.lua` gives per job.
pub(super) const LEASED_FIELDS: usize = 7;

pub(super) fn leased(fields: Vec<Value>, options: &mut OptionsCache) -> Result<Leased> {
    let [id, name, data, attempt, token, opts, created]: [Value; LEASED_FIELDS] =
        fields.try_into().map_err(|f: Vec<Value>| unexpected("a leased job", &Value::Array(f)))?;
    Ok(Leased {
        id: text(id)?,
        name: text(name)?,
        data: bytes(data)?.unwrap_or_default(),
        attempt: count(&attempt)? as u32,
        token: count(&token)?,
        opts: options.read(&bytes(opts)?.unwrap_or_default()),
        created_ms: count(&created)?,
    })
}

/// A job as `info.lua` gives it; `None` for a job that is not there.
pub(super) fn info(v: Value) -> Result<Option<JobInfo>> {
    let fields = match v {
        Value::Nil => return Ok(None),
        v => array(v)?,
    };
    let [id, name, data, state, attempts, progress, result, opts, priority, created, finished, errors]: [Value;
        12] = fields.try_into().map_err(|f: Vec<Value>| unexpected("a job", &Value::Array(f)))?;
    let errors = array(errors)?
        .into_iter()
        .filter_map(|e| bytes(e).ok().flatten())
        // One unreadable entry does not hide the others.
        .filter_map(|e| serde_json::from_slice::<AttemptError>(&e).ok())
        .collect();
    Ok(Some(JobInfo {
        id: text(id)?,
        name: text(name)?,
        data: bytes(data)?.unwrap_or_default(),
        state: state_of(state)?,
        attempts: count(&attempts)? as u32,
        errors,
        progress: bytes(progress)?,
        result: bytes(result)?,
        opts: opts_of(opts)?,
        priority: count(&priority)?.min(u64::from(u32::MAX)) as u32,
        created_ms: count(&created)?,
        finished_ms: match finished {
            Value::Nil => None,
            v => Some(count(&v)?),
        },
    }))
}
