//! The `{{kebab}}` saga: `reserve` then `charge`. When `charge` fails for good, the completed
//! `reserve` is compensated (its compensation gets reserve's output and releases it), so a run
//! either completes or leaves nothing behind. Register it and run it:
//!
//! ```
//! # async fn example() -> omnitron::Result<()> {
//! use {{project_snake}}::{{snake}}_workflow;
//! let engine = omnitron::workflow::Engine::in_memory(); // Engine::open("runs.db") with `sqlite`
//! engine.register({{snake}}_workflow::workflow()?)?;
//! let input = serde_json::json!({ "item": "book", "amount": 20 });
//! let outputs = engine.run({{snake}}_workflow::NAME, input).await?;
//! # Ok(())
//! # }
//! ```

use std::time::Duration;

use omnitron::workflow::{Stage, Workflow};
use serde_json::{Value, json};

/// The workflow's name.
pub const NAME: &str = "{{kebab}}";

/// Charges above this are declined (a stand-in for a payment service saying no).
pub const LIMIT: i64 = 1000;

/// The saga. Stage values are JSON: `reserve` gets the run's input, `charge` gets reserve's output
/// (and reads the run's input from its context).
pub fn workflow() -> omnitron::Result<Workflow> {
    Workflow::builder(NAME)
        .stage(
            Stage::new("reserve", |input: Value, ctx| async move {
                let item = input["item"]
                    .as_str()
                    .ok_or("the input needs an \"item\"")?;
                // Pass ctx.idempotency_key() to remote services: it is the same on every attempt.
                Ok::<_, String>(
                    json!({ "reservation": format!("res-{item}"), "key": ctx.idempotency_key() }),
                )
            })
            .timeout(Duration::from_secs(5))
            .compensate(|reserved: Value, _ctx| async move {
                // Undo the stage: release reserved["reservation"].
                let _reservation = &reserved["reservation"];
                Ok::<_, String>(())
            }),
        )
        .stage(
            Stage::new("charge", |reserved: Value, ctx| async move {
                let amount = ctx.workflow_input()["amount"]
                    .as_i64()
                    .ok_or("the input needs an \"amount\"")?;
                if amount > LIMIT {
                    return Err(format!("charge of {amount} declined (limit {LIMIT})"));
                }
                Ok(json!({ "charged": amount, "for": reserved["reservation"] }))
            })
            .depends_on("reserve"),
        )
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use omnitron::ErrorCode;
    use omnitron::workflow::{Engine, RunState, StageState};

    fn engine() -> Engine {
        let engine = Engine::in_memory();
        engine.register(workflow().unwrap()).unwrap();
        engine
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_stage_runs_in_order() {
        let engine = engine();
        let out = engine
            .run(NAME, json!({ "item": "book", "amount": 20 }))
            .await
            .unwrap();
        assert_eq!(out["reserve"]["reservation"], "res-book");
        assert_eq!(out["charge"], json!({ "charged": 20, "for": "res-book" }));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_declined_charge_releases_the_reservation() {
        let engine = engine();
        let run = engine
            .start(
                NAME,
                json!({ "item": "piano", "amount": 5000 }),
                Some("order-1"),
            )
            .await
            .unwrap();
        let e = run.wait().await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::StageFailed);
        assert!(e.message().contains("declined"), "{e}");

        let info = engine.get("order-1").await.unwrap();
        assert_eq!(info.state, RunState::Compensated);
        assert_eq!(
            info.stage("reserve").unwrap().state,
            StageState::Compensated
        );
        assert_eq!(info.stage("charge").unwrap().state, StageState::Failed);
    }
}
