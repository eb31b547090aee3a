//! Workflow definitions: the builder, stage functions and the checks made before a workflow is
//! accepted (duplicate stages, unknown dependencies, cycles with their path).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::context::StageContext;
use crate::error::{BoxError, Error, ErrorCode, Result};
use crate::resilience::RetryOptions;

/// A boxed future, as stage functions return them.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a stage returns: its output (any JSON value; `null` for nothing) or an error.
pub type StageResult = std::result::Result<Value, BoxError>;

/// A stage function as bindings supply it: takes the stage's input and its context.
pub type StageFn = Arc<dyn Fn(Value, StageContext) -> BoxFuture<'static, StageResult> + Send + Sync>;

/// A compensation function: takes the output of the stage it undoes and a context (whose
/// [`StageContext::workflow_input`] is the run's input).
pub type CompensateFn =
    Arc<dyn Fn(Value, StageContext) -> BoxFuture<'static, std::result::Result<(), BoxError>> + Send + Sync>;

/// What happens to a run that was unfinished when its process stopped, once a new engine calls
/// [`Engine::recover`](super::Engine::recover).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryPolicy {
    /// Carry on: completed stages keep their outputs and are not run again; stages in flight are
    /// run again with the same idempotency key.
    #[default]
    Resume,
    /// Undo: compensate every completed stage in reverse order of completion.
    Compensate,
}

impl std::str::FromStr for RecoveryPolicy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        // The doors' options and this parse share one check (workflow/options.rs).
        let raw = crate::options::RawOptions::new(
            crate::dialect::Dialect::Rust,
            "workflow",
            ErrorCode::InvalidWorkflow,
        )
        .with("recovery", crate::options::Value::Text(s.to_string()));
        let o = super::StepOptions::from_raw(super::StepKind::Workflow, &raw)?;
        Ok(o.recovery.unwrap_or_default())
    }
}

/// The stages a stage depends on: one name (`"a"`) or several (`["a", "b"]`, a `Vec`).
pub trait Dependencies {
    /// The names.
    fn into_names(self) -> Vec<String>;
}

impl Dependencies for &str {
    fn into_names(self) -> Vec<String> {
        vec![self.to_string()]
    }
}

impl Dependencies for String {
    fn into_names(self) -> Vec<String> {
        vec![self]
    }
}

impl<S: Into<String>, const N: usize> Dependencies for [S; N] {
    fn into_names(self) -> Vec<String> {
        self.into_iter().map(Into::into).collect()
    }
}

impl<S: Into<String>> Dependencies for Vec<S> {
    fn into_names(self) -> Vec<String> {
        self.into_iter().map(Into::into).collect()
    }
}

impl<S: Into<String> + Clone> Dependencies for &[S] {
    fn into_names(self) -> Vec<String> {
        self.iter().cloned().map(Into::into).collect()
    }
}

/// One stage of a workflow, as the builder takes it.
///
/// ```
/// use omnitron::workflow::Stage;
/// use omnitron::resilience::RetryOptions;
/// use std::time::Duration;
///
/// let pay = Stage::new("pay", |order, ctx| async move {
///     // pass ctx.idempotency_key() on to the payment service
///     Ok::<_, std::io::Error>(serde_json::json!({ "paid": order["total"], "key": ctx.idempotency_key() }))
/// })
/// .depends_on("reserve")
/// .timeout(Duration::from_secs(5))
/// .retries(RetryOptions::new(3));
/// ```
#[derive(Clone)]
pub struct Stage {
    pub(crate) name: String,
    pub(crate) run: StageFn,
    pub(crate) depends_on: Vec<String>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) retries: RetryOptions,
    pub(crate) compensate: Option<CompensateFn>,
    pub(crate) compensation_retries: RetryOptions,
}

impl fmt::Debug for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stage")
            .field("name", &self.name)
            .field("depends_on", &self.depends_on)
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("compensate", &self.compensate.is_some())
            .field("compensation_retries", &self.compensation_retries)
            .finish()
    }
}

/// Turns a typed async closure into a [`StageFn`]: any serialisable output (`()` gives `null`),
/// any error convertible to [`BoxError`].
pub fn stage_fn<F, Fut, T, E>(f: F) -> StageFn
where
    F: Fn(Value, StageContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = std::result::Result<T, E>> + Send + 'static,
    T: serde::Serialize,
    E: Into<BoxError>,
{
    Arc::new(move |input, ctx| {
        let fut = f(input, ctx);
        Box::pin(async move {
            let out = fut.await.map_err(Into::into)?;
            serde_json::to_value(out).map_err(|e| {
                Box::new(Error::new(
                    ErrorCode::InvalidArgument,
                    format!("the stage's output cannot be turned into JSON: {e}"),
                )) as BoxError
            })
        })
    })
}

/// Turns a typed async closure into a [`CompensateFn`].
pub fn compensate_fn<F, Fut, E>(f: F) -> CompensateFn
where
    F: Fn(Value, StageContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = std::result::Result<(), E>> + Send + 'static,
    E: Into<BoxError>,
{
    Arc::new(move |output, ctx| {
        let fut = f(output, ctx);
        Box::pin(async move { fut.await.map_err(Into::into) })
    })
}

impl Stage {
    /// A stage running `f(input, ctx)`. No dependencies, no timeout, one attempt, no compensation.
    pub fn new<F, Fut, T, E>(name: impl Into<String>, f: F) -> Self
    where
        F: Fn(Value, StageContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<T, E>> + Send + 'static,
        T: serde::Serialize,
        E: Into<BoxError>,
    {
        Self::from_fn(name, stage_fn(f))
    }

    /// A stage from an already boxed function (what bindings use).
    pub fn from_fn(name: impl Into<String>, run: StageFn) -> Self {
        Stage {
            name: name.into(),
            run,
            depends_on: Vec::new(),
            timeout: None,
            retries: RetryOptions::new(1),
            compensate: None,
            compensation_retries: RetryOptions::new(1),
        }
    }

    /// The stage's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Adds dependencies: one name or several. The stage runs once they have all completed.
    pub fn depends_on(mut self, deps: impl Dependencies) -> Self {
        self.depends_on.extend(deps.into_names());
        self
    }

    /// Each attempt must finish within `timeout` (a late attempt fails with `StageTimeout` and is
    /// retried if attempts remain).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Attempts and backoff (`RetryOptions::new(n)`: `n` attempts in all). The spec's
    /// `retries: r` is `max_attempts = r + 1`.
    pub fn retries(mut self, retries: RetryOptions) -> Self {
        self.retries = retries;
        self
    }

    /// The compensation that undoes this stage; it gets the stage's output.
    pub fn compensate<F, Fut, E>(self, f: F) -> Self
    where
        F: Fn(Value, StageContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.compensate_with(compensate_fn(f))
    }

    /// The compensation, already boxed (what bindings use).
    pub fn compensate_with(mut self, f: CompensateFn) -> Self {
        self.compensate = Some(f);
        self
    }

    /// Attempts and backoff of the compensation (default: one attempt).
    pub fn compensation_retries(mut self, retries: RetryOptions) -> Self {
        self.compensation_retries = retries;
        self
    }
}

/// A checked workflow definition, ready to be registered with an engine. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Workflow {
    pub(crate) def: Arc<Definition>,
}

#[derive(Debug)]
pub(crate) struct Definition {
    pub(crate) name: String,
    pub(crate) stages: Vec<Stage>,
    /// For each stage, the indices of its dependencies (in the order given).
    pub(crate) deps: Vec<Vec<usize>>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) retries: RetryOptions,
    pub(crate) recovery: RecoveryPolicy,
}

impl Workflow {
    /// Starts a definition.
    pub fn builder(name: impl Into<String>) -> WorkflowBuilder {
        WorkflowBuilder {
            name: name.into(),
            stages: Vec::new(),
            compensations: Vec::new(),
            timeout: None,
            retries: RetryOptions::new(1),
            recovery: RecoveryPolicy::Resume,
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.def.name
    }

    /// Its stage names, in definition order.
    pub fn stage_names(&self) -> Vec<&str> {
        self.def.stages.iter().map(|s| s.name.as_str()).collect()
    }

    /// Its recovery policy.
    pub fn recovery(&self) -> RecoveryPolicy {
        self.def.recovery
    }
}

/// Collects a workflow's stages and options; [`WorkflowBuilder::build`] checks them.
pub struct WorkflowBuilder {
    name: String,
    stages: Vec<Stage>,
    compensations: Vec<(String, CompensateFn, Option<RetryOptions>)>,
    timeout: Option<Duration>,
    retries: RetryOptions,
    recovery: RecoveryPolicy,
}

impl fmt::Debug for WorkflowBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkflowBuilder")
            .field("name", &self.name)
            .field("stages", &self.stages)
            .field("compensations", &self.compensations.iter().map(|c| &c.0).collect::<Vec<_>>())
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("recovery", &self.recovery)
            .finish()
    }
}

impl WorkflowBuilder {
    /// Adds a stage.
    pub fn stage(mut self, stage: Stage) -> Self {
        self.stages.push(stage);
        self
    }

    /// Attaches a compensation to a stage by name (the spec's `@Compensate('stage')`); checked by
    /// `build`.
    pub fn compensate(
        mut self,
        stage: impl Into<String>,
        f: CompensateFn,
        retries: Option<RetryOptions>,
    ) -> Self {
        self.compensations.push((stage.into(), f, retries));
        self
    }

    /// Each attempt of the whole run must finish within `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Attempts of the whole run (default 1). A new attempt re-runs the stages that failed or never
    /// ran; completed stages keep their outputs.
    pub fn retries(mut self, retries: RetryOptions) -> Self {
        self.retries = retries;
        self
    }

    /// What recovery does with an interrupted run (default [`RecoveryPolicy::Resume`]).
    pub fn recovery(mut self, policy: RecoveryPolicy) -> Self {
        self.recovery = policy;
        self
    }

    /// Checks the definition: a name, unique non-empty stage names, known dependencies, no cycle,
    /// valid retry options, compensations for existing stages.
    pub fn build(self) -> Result<Workflow> {
        let wf = self.name.clone();
        let invalid = |msg: String| Err(Error::new(ErrorCode::InvalidWorkflow, msg));
        if wf.trim().is_empty() {
            return invalid("a workflow needs a non-empty name".into());
        }
        if let Err(e) = self.retries.validate() {
            return Err(Error::new(ErrorCode::InvalidWorkflow, format!("workflow '{wf}': {}", e.message())));
        }
        let mut stages = self.stages;
        let mut index = HashMap::new();
        for (i, s) in stages.iter().enumerate() {
            if s.name.trim().is_empty() {
                return invalid(format!("workflow '{wf}': stage #{} has an empty name; give it one", i + 1));
            }
            if index.insert(s.name.clone(), i).is_some() {
                return Err(Error::new(
                    ErrorCode::DuplicateStage,
                    format!("workflow '{wf}' has two stages named '{}': rename one of them", s.name),
                ));
            }
            for (what, r) in [("retries", &s.retries), ("compensation retries", &s.compensation_retries)] {
                if let Err(e) = r.validate() {
                    return invalid(format!("workflow '{wf}', stage '{}', {what}: {}", s.name, e.message()));
                }
            }
            if s.timeout == Some(Duration::ZERO) {
                return invalid(format!("workflow '{wf}', stage '{}': a timeout must be above zero", s.name));
            }
        }
        if self.timeout == Some(Duration::ZERO) {
            return invalid(format!("workflow '{wf}': a timeout must be above zero"));
        }
        for (stage, f, retries) in self.compensations {
            let Some(&i) = index.get(&stage) else {
                return invalid(format!(
                    "workflow '{wf}': a compensation is given for stage '{stage}', which the workflow does not have{}",
                    suggest(&stage, index.keys())
                ));
            };
            stages[i].compensate = Some(f);
            if let Some(r) = retries {
                stages[i].compensation_retries = r;
            }
        }
        let mut deps = Vec::with_capacity(stages.len());
        for s in &stages {
            let mut d = Vec::with_capacity(s.depends_on.len());
            for name in &s.depends_on {
                let Some(&j) = index.get(name) else {
                    return Err(Error::new(
                        ErrorCode::UnknownDependency,
                        format!(
                            "workflow '{wf}': stage '{}' depends on '{name}', which is not a stage of this workflow{}; add that stage or fix the name",
                            s.name,
                            suggest(name, index.keys())
                        ),
                    ));
                };
                if !d.contains(&j) {
                    d.push(j);
                }
            }
            deps.push(d);
        }
        if let Some(cycle) = find_cycle(&deps) {
            let path: Vec<&str> = cycle.iter().map(|&i| stages[i].name.as_str()).collect();
            return Err(Error::new(
                ErrorCode::WorkflowCycle,
                format!(
                    "workflow '{wf}': stages depend on each other in a loop: {}; remove one of these dependencies",
                    path.join(" -> ")
                ),
            ));
        }
        Ok(Workflow {
            def: Arc::new(Definition {
                name: self.name,
                stages,
                deps,
                timeout: self.timeout,
                retries: self.retries,
                recovery: self.recovery,
            }),
        })
    }
}

fn suggest<'a>(name: &str, known: impl Iterator<Item = &'a String>) -> String {
    let best = known
        .map(|k| (strsim::levenshtein(name, k), k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.clone());
    match best {
        Some(k) => format!(" (did you mean '{k}'?)"),
        None => String::new(),
    }
}

/// A dependency loop as a path of stage indices whose last element repeats the first.
fn find_cycle(deps: &[Vec<usize>]) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut mark = vec![Mark::New; deps.len()];
    for root in 0..deps.len() {
        if mark[root] != Mark::New {
            continue;
        }
        // Iterative DFS: (node, next dependency to look at); `path` is the open chain.
        let mut stack = vec![(root, 0usize)];
        mark[root] = Mark::Open;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&dep) = deps[node].get(*next) {
                *next += 1;
                match mark[dep] {
                    Mark::New => {
                        mark[dep] = Mark::Open;
                        stack.push((dep, 0));
                    }
                    Mark::Open => {
                        let start = stack.iter().position(|&(n, _)| n == dep).unwrap_or(0);
                        // The chain runs from a stage to what it depends on; show it in the order
                        // "a depends on b depends on c depends on a".
                        let mut path: Vec<usize> = stack[start..].iter().map(|&(n, _)| n).collect();
                        path.push(dep);
                        return Some(path);
                    }
                    Mark::Done => {}
                }
            } else {
                mark[node] = Mark::Done;
                stack.pop();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycle_path_is_named() {
        // a -> b -> c -> a (a depends on b, b on c, c on a)
        let deps = vec![vec![1], vec![2], vec![0]];
        assert_eq!(find_cycle(&deps), Some(vec![0, 1, 2, 0]));
        assert_eq!(find_cycle(&[vec![], vec![0], vec![0, 1]]), None);
        assert_eq!(find_cycle(&[vec![0]]), Some(vec![0, 0]));
    }
}
