//! `omnitron.yaml`: the spec's examples parse, interpolation works, and bad files are refused with
//! the file, line and key named.

use std::time::Duration;

use omnitron::ErrorCode;
use omnitron::config::{Instances, ProcessType, parse};

fn env(k: &str) -> Option<String> {
    match k {
        "WORKER_INSTANCES" => Some("4".into()),
        "DB_HOST" => Some("db.internal".into()),
        _ => None,
    }
}

#[test]
fn the_specs_process_sections_parse() {
    // Spec 3.1 and 5.1, with the command each process runs.
    let text = r#"
name: my-app
version: 1.0.0
modules:
  database:
    host: ${DB_HOST}
features:
  betaFeatures: ${ENABLE_BETA:-false}
processes:
  main:
    type: main
    command: node dist/main.js
    instances: 1
    env:
      NODE_OPTIONS: --max-old-space-size=4096
  api:
    type: gateway
    command: [node, dist/api.js]
    instances: ${API_INSTANCES:-auto}
    strategy: least-connections
    memory: 512M
    cpu: 0.5
    healthCheck:
      path: /health
      interval: 10000
  workers:
    type: worker
    command: python3 -m omnitron.worker jobs:Worker
    instances: ${WORKER_INSTANCES:-2}
    isolation: process
    restart: on-failure
    maxRestarts: 3
    restartDelay: 1000
"#;
    let c = parse(text, "omnitron.yaml", &env).unwrap();
    assert_eq!(c.name.as_deref(), Some("my-app"));
    let names: Vec<&str> = c.processes.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["main", "api", "workers"], "started in the order written");
    let (_, api) = &c.processes[1];
    assert_eq!(api.kind, ProcessType::Gateway);
    assert_eq!(api.instances, Instances::Auto);
    assert_eq!(api.health_check.as_ref().unwrap().interval, Some(Duration::from_secs(10)));
    let (_, workers) = &c.processes[2];
    assert_eq!(workers.instances, Instances::Count(4), "from the environment");
    assert_eq!(workers.command.0, ["python3", "-m", "omnitron.worker", "jobs:Worker"]);
    assert_eq!(workers.restart_delay, Some(Duration::from_millis(1000)));
    assert_eq!(c.modules.unwrap()["database"]["host"].as_str(), Some("db.internal"));
}

#[test]
fn bad_files_name_the_file_line_and_key() {
    let cases = [
        ("processes:\n  api:\n    command: x\n    instancez: 2\n", "omnitron.yaml:4:", "instancez"),
        ("processes:\n  api:\n    command: x\n    instances: many\n", "omnitron.yaml:4:", "instances"),
        ("processes:\n  api:\n    command: x\n    maxRestarts: lots\n", "omnitron.yaml:4:", "maxRestarts"),
        (
            "processes:\n  api:\n    command: x\n    restart: sometimes\n",
            "processes.api.restart",
            "sometimes",
        ),
        ("processes:\n  api:\n    command: x\n    isolation: thread\n", "omnitron.yaml:4:", "thread"),
        ("processes:\n  api:\n    instances: 2\n", "omnitron.yaml:", "command"),
        ("processes:\n  api:\n    command: ${NOPE}\n", "omnitron.yaml:3:", "NOPE"),
        ("nmae: x\n", "omnitron.yaml:1:", "nmae"),
        ("supervisor:\n  strategy: all-for-none\n", "supervisor.strategy", "all-for-none"),
        ("processes:\n  api:\n    command: x\n    restartDelay: soon\n", "omnitron.yaml:4:", "soon"),
    ];
    for (text, at, key) in cases {
        let e = parse(text, "omnitron.yaml", &env).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidConfig, "{text}");
        assert!(e.message().contains(at) && e.message().contains(key), "{text} -> {e}");
    }
}
