//! A workflow's and a stage's options as a door's user gave them (`timeout`, `retries` after the
//! first attempt, `retry_delay`, a workflow's `recovery`, a compensation's `retries` and
//! `retry_delay`), checked once here, in the reader's words: the doors check nothing themselves.

use std::time::Duration;

use super::definition::{RecoveryPolicy, Stage, WorkflowBuilder};
use crate::error::Result;
use crate::options::RawOptions;
use crate::resilience::{Backoff, RetryOptions};

/// What a workflow, a stage or a compensation reads from its options.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepOptions {
    /// How long a run (a workflow's) or an attempt (a stage's) may take.
    pub timeout: Option<Duration>,
    /// Attempts and backoff (a workflow's apply to each of its stages without their own).
    pub retries: Option<RetryOptions>,
    /// A workflow's recovery policy.
    pub recovery: Option<RecoveryPolicy>,
    /// A stage's compensation's attempts and backoff.
    pub compensation_retries: Option<RetryOptions>,
}

/// What a set of options belongs to: each takes its own keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// `timeout`, `retries`, `retry_delay`, `recovery`.
    Workflow,
    /// `timeout`, `retries`, `retry_delay`, `compensation_retries`, `compensation_retry_delay`.
    Stage,
    /// A compensation's own: `retries`, `retry_delay` (read as the stage's compensation retries).
    Compensation,
}

impl StepKind {
    /// The kind a door names `workflow`, `stage` or `compensation`; E001 for anything else.
    pub fn from_name(name: &str) -> Result<StepKind> {
        match name {
            "workflow" => Ok(StepKind::Workflow),
            "stage" => Ok(StepKind::Stage),
            "compensation" => Ok(StepKind::Compensation),
            other => Err(crate::Error::invalid_argument(format!(
                "unknown kind of workflow options '{other}': workflow, stage or compensation"
            ))),
        }
    }
}

impl StepOptions {
    /// Reads and checks the options of a `kind` (a wrong value is an `InvalidWorkflow` error when
    /// `raw` was made with that code).
    pub fn from_raw(kind: StepKind, raw: &RawOptions) -> Result<StepOptions> {
        let mut o = StepOptions::default();
        match kind {
            StepKind::Workflow | StepKind::Stage => {
                o.timeout = raw.duration("timeout")?;
                o.retries = retries(raw, "retries", "retry_delay")?;
            }
            StepKind::Compensation => o.compensation_retries = retries(raw, "retries", "retry_delay")?,
        }
        match kind {
            StepKind::Workflow => {
                o.recovery = match raw.choice("recovery", &["resume", "compensate"])? {
                    Some("compensate") => Some(RecoveryPolicy::Compensate),
                    Some(_) => Some(RecoveryPolicy::Resume),
                    None => None,
                }
            }
            StepKind::Stage => {
                o.compensation_retries = retries(raw, "compensation_retries", "compensation_retry_delay")?
            }
            StepKind::Compensation => {}
        }
        Ok(o)
    }
}

/// `count` retries after the first attempt, `delay` before the first retry, doubling after.
fn retries(raw: &RawOptions, count: &str, delay: &str) -> Result<Option<RetryOptions>> {
    let n = raw.count(count, 0)?;
    let d = raw.duration(delay)?;
    let Some(n) = n else { return Ok(None) };
    let Some(attempts) = n.checked_add(1) else {
        return Err(raw.wrong(count, "must be a whole number below 4294967295"));
    };
    let mut r = RetryOptions::new(attempts);
    if let Some(d) = d {
        r.backoff = Backoff::Exponential { initial: d, factor: 2.0 };
    }
    Ok(Some(r))
}

impl WorkflowBuilder {
    /// Applies options read with [`StepOptions::from_raw`].
    pub fn options(mut self, o: StepOptions) -> Self {
        if let Some(t) = o.timeout {
            self = self.timeout(t);
        }
        if let Some(r) = o.retries {
            self = self.retries(r);
        }
        if let Some(p) = o.recovery {
            self = self.recovery(p);
        }
        self
    }
}

impl Stage {
    /// Applies options read with [`StepOptions::from_raw`].
    pub fn options(mut self, o: StepOptions) -> Self {
        if let Some(t) = o.timeout {
            self = self.timeout(t);
        }
        if let Some(r) = o.retries {
            self = self.retries(r);
        }
        if let Some(r) = o.compensation_retries {
            self = self.compensation_retries(r);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;
    use crate::dialect::Dialect;
    use crate::options::Value;

    fn raw(d: Dialect) -> RawOptions {
        RawOptions::new(d, "@Stage('pay')", ErrorCode::InvalidWorkflow)
    }

    #[test]
    fn a_stage_reads_its_options_in_the_door_s_unit() {
        let o = StepOptions::from_raw(
            StepKind::Stage,
            &raw(Dialect::Python)
                .with("timeout", Value::Number(1.5))
                .with("retries", Value::Number(2.0))
                .with("retry_delay", Value::Number(0.1))
                .with("compensation_retries", Value::Number(0.0)),
        )
        .unwrap();
        assert_eq!(o.timeout, Some(Duration::from_millis(1500)));
        let r = o.retries.unwrap();
        assert_eq!(r.max_attempts, 3);
        assert_eq!(r.backoff, Backoff::Exponential { initial: Duration::from_millis(100), factor: 2.0 });
        assert_eq!(o.compensation_retries.unwrap().max_attempts, 1);
    }

    #[test]
    fn wrong_values_are_named_as_the_door_spells_them() {
        let e = StepOptions::from_raw(
            StepKind::Stage,
            &raw(Dialect::TypeScript).with("retryDelay", Value::Number(-1.0)),
        )
        .unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidWorkflow);
        assert_eq!(e.message(), "@Stage('pay'): retryDelay must be a number of milliseconds above 0, got -1");
        let e = StepOptions::from_raw(
            StepKind::Workflow,
            &raw(Dialect::Python).with("recovery", Value::Text("sometimes".into())),
        )
        .unwrap_err();
        assert_eq!(
            e.message(),
            "@Stage('pay'): recovery must be one of 'resume', 'compensate', got 'sometimes'"
        );
        let e =
            StepOptions::from_raw(StepKind::Stage, &raw(Dialect::Python).with("retries", Value::Number(1.5)))
                .unwrap_err();
        assert!(e.message().contains("retries must be a whole number of at least 0, got 1.5"), "{e}");
    }

    #[test]
    fn kinds_are_named_and_an_unknown_one_is_refused() {
        assert_eq!(StepKind::from_name("stage").unwrap(), StepKind::Stage);
        assert_eq!(StepKind::from_name("stages").unwrap_err().code(), ErrorCode::InvalidArgument);
    }

    #[test]
    fn a_compensation_s_retries_are_the_stage_s_compensation_retries() {
        let o = StepOptions::from_raw(
            StepKind::Compensation,
            &raw(Dialect::C).with("retries", Value::Number(4.0)),
        )
        .unwrap();
        assert_eq!(o.compensation_retries.unwrap().max_attempts, 5);
        assert!(o.retries.is_none());
    }
}
