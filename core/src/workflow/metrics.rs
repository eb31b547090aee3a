//! What workflows count in the metrics registry. Series are looked up once, when a workflow is
//! registered.

use std::collections::HashMap;

use super::definition::Definition;
use super::run::RunState;
use crate::error::Result;
use crate::metrics::{Counter, Histogram, MetricOptions, Registry};

/// The series of one stage.
#[derive(Debug)]
pub(crate) struct StageMetrics {
    pub(crate) duration: Histogram,
    pub(crate) ok: Counter,
    pub(crate) failed: Counter,
    pub(crate) timeout: Counter,
    pub(crate) compensated: Counter,
    pub(crate) compensation_failed: Counter,
}

/// The series of one workflow.
#[derive(Debug)]
pub(crate) struct WorkflowMetrics {
    pub(crate) runs: HashMap<RunState, Counter>,
    pub(crate) stages: Vec<StageMetrics>,
}

impl WorkflowMetrics {
    pub(crate) fn new(registry: &Registry, def: &Definition) -> Result<Self> {
        let runs = registry.counter_vec(
            MetricOptions::new("omnitron_workflow_runs_total", "Workflow runs ended, by final state")
                .labels(["workflow", "state"]),
        )?;
        let duration = registry.histogram_vec(
            MetricOptions::new(
                "omnitron_workflow_stage_duration_seconds",
                "Duration of workflow stage attempts",
            )
            .labels(["workflow", "stage"]),
        )?;
        let attempts = registry.counter_vec(
            MetricOptions::new(
                "omnitron_workflow_stage_attempts_total",
                "Workflow stage attempts, by outcome",
            )
            .labels(["workflow", "stage", "outcome"]),
        )?;
        let comps = registry.counter_vec(
            MetricOptions::new(
                "omnitron_workflow_compensations_total",
                "Workflow compensations run to the end, by outcome",
            )
            .labels(["workflow", "stage", "outcome"]),
        )?;
        let wf = def.name.as_str();
        let mut by_state = HashMap::new();
        for s in RunState::ALL.into_iter().filter(|s| s.is_final()) {
            by_state.insert(s, runs.with_labels(&[wf, s.as_str()])?);
        }
        let mut stages = Vec::with_capacity(def.stages.len());
        for s in &def.stages {
            let st = s.name.as_str();
            stages.push(StageMetrics {
                duration: duration.with_labels(&[wf, st])?,
                ok: attempts.with_labels(&[wf, st, "ok"])?,
                failed: attempts.with_labels(&[wf, st, "error"])?,
                timeout: attempts.with_labels(&[wf, st, "timeout"])?,
                compensated: comps.with_labels(&[wf, st, "ok"])?,
                compensation_failed: comps.with_labels(&[wf, st, "failed"])?,
            });
        }
        Ok(WorkflowMetrics { runs: by_state, stages })
    }
}
