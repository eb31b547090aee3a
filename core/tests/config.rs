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

#[test]
fn the_specs_queue_and_scheduler_sections_parse_and_are_checked() {
    // Spec 3.1's `scheduler` and `queue` processes, with the command each runs.
    let text = r#"
queueStore: redis://127.0.0.1:6379/0?prefix=my-app
processes:
  scheduler:
    type: scheduler
    command: node dist/scheduler.js
    instances: 1
    isolation: process
    cronJobs:
      - pattern: '0 * * * *'
        handler: 'jobs/hourly-cleanup'
      - pattern: '0 0 * * *'
        handler: 'jobs/daily-report'
  queue:
    type: queue
    command: python3 -m app.queues
    instances: auto
    concurrency: 10
    queues:
      - name: emails
        concurrency: 5
        rateLimit: 100/minute
      - name: webhooks
        retries: 5
        backoff: exponential
"#;
    let c = parse(text, "omnitron.yaml", &env).unwrap();
    let (_, scheduler) = &c.processes[0];
    assert_eq!(scheduler.cron_jobs.len(), 2);
    assert_eq!(scheduler.cron_jobs[1].handler.as_deref(), Some("jobs/daily-report"));
    let (_, queue) = &c.processes[1];
    assert_eq!(queue.concurrency, Some(10));
    assert_eq!(queue.queues.iter().map(|q| q.name.as_str()).collect::<Vec<_>>(), ["emails", "webhooks"]);
    assert_eq!(c.queue_store.as_deref(), Some("redis://127.0.0.1:6379/0?prefix=my-app"));

    let bad = [
        ("      - name: emails\n        rateLimit: lots\n", "processes.queue.queues[0]", "100/minute"),
        ("      - name: emails\n        retrys: 5\n", "processes.queue.queues[0]", "retries"),
        ("      - name: 'no spaces'\n", "no spaces", "letters"),
    ];
    for (entry, at, rule) in bad {
        let text = format!("processes:\n  queue:\n    command: x\n    queues:\n{entry}");
        let e = parse(&text, "omnitron.yaml", &env).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidConfig, "{entry}");
        assert!(e.message().contains(at) && e.message().contains(rule), "{entry} -> {e}");
    }
    let text = "processes:\n  s:\n    command: x\n    cronJobs:\n      - pattern: '61 * * * *'\n        handler: h\n";
    let e = parse(text, "omnitron.yaml", &env).unwrap_err();
    assert!(e.message().contains("processes.s.cronJobs[0].pattern") && e.message().contains("minute"), "{e}");
}

#[test]
fn every_process_is_told_where_the_queues_live_and_its_share_of_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omnitron.yaml");
    let text = "processes:\n  q:\n    command: x\n    concurrency: 3\n    queues:\n      - name: emails\n        rateLimit: 10/s\n  plain:\n    command: y\n";
    let loaded = omnitron::config::LoadedConfig {
        path: path.clone(),
        config: parse(text, "omnitron.yaml", &env).unwrap(),
    };
    let env_of = |name: &str| {
        let (_, p) = loaded.config.processes.iter().find(|(n, _)| n == name).unwrap();
        loaded.child_options(name, p).unwrap().spec.env
    };
    let q = env_of("q");
    let store = q.iter().find(|(k, _)| k == "OMNITRON_QUEUE_STORE").map(|(_, v)| v.clone()).unwrap();
    // The default store, made absolute from the file's directory: every process opens the same file.
    let expected = std::path::absolute(dir.path().join(".omnitron/queues.db")).unwrap();
    assert_eq!(store, format!("sqlite:{}", expected.display()));
    let queues = q.iter().find(|(k, _)| k == "OMNITRON_QUEUES").map(|(_, v)| v.clone()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&queues).unwrap();
    assert_eq!(v["concurrency"], 3);
    assert_eq!(v["queues"][0], serde_json::json!({ "name": "emails", "rateLimit": "10/s" }));
    let plain = env_of("plain");
    assert!(plain.iter().any(|(k, _)| k == "OMNITRON_QUEUE_STORE"));
    assert!(!plain.iter().any(|(k, _)| k == "OMNITRON_QUEUES"));
}

#[test]
fn tracing_reaches_every_process_as_the_standard_variables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omnitron.yaml");
    let text = r#"
tracing:
  endpoint: http://collector:4318
  sampling: 0.25
  headers:
    api-key: "a b,c"
processes:
  api:
    command: node api.js
  worker:
    command: python3 worker.py
    env:
      OTEL_SERVICE_NAME: jobs
"#;
    let c = omnitron::config::LoadedConfig { path, config: parse(text, "omnitron.yaml", &env).unwrap() };
    let env_of = |name: &str| child_env(&c, name);
    let api = env_of("api");
    assert_eq!(api("OTEL_SERVICE_NAME").as_deref(), Some("api"));
    assert_eq!(api("OTEL_EXPORTER_OTLP_ENDPOINT").as_deref(), Some("http://collector:4318"));
    assert_eq!(api("OTEL_TRACES_SAMPLER").as_deref(), Some("parentbased_traceidratio"));
    assert_eq!(api("OTEL_TRACES_SAMPLER_ARG").as_deref(), Some("0.25"));
    // What the child's engine makes of them: the same settings, the header decoded back.
    let cfg = omnitron::telemetry::TraceConfig::from_vars("x", &api).unwrap().unwrap();
    assert_eq!(cfg.sampler, omnitron::telemetry::Sampler::Ratio(0.25));
    let omnitron::telemetry::Exporter::Otlp { endpoint, headers, .. } = cfg.exporter else { panic!("otlp") };
    assert_eq!(endpoint, "http://collector:4318/v1/traces");
    assert_eq!(headers, [("api-key".to_string(), "a b,c".to_string())]);
    // The process's own env wins.
    assert_eq!(env_of("worker")("OTEL_SERVICE_NAME").as_deref(), Some("jobs"));

    for (section, key) in [
        ("tracing:\n  exporter: zipkin\n", "tracing.exporter: 'zipkin'"),
        ("tracing:\n  endpoint: collector:4318\n", "tracing.endpoint: 'collector:4318'"),
        ("tracing:\n  sampling: 2\n", "tracing.sampling: '2'"),
        ("tracing:\n  sampler: 2\n", "sampler"),
    ] {
        let e = parse(section, "omnitron.yaml", &env).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidConfig, "{section}");
        assert!(e.message().contains(key) && e.message().contains("omnitron.yaml"), "{section} -> {e}");
    }
}

#[test]
fn logging_reaches_every_process_and_bad_levels_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omnitron.yaml");
    let text = r#"
instrumentation:
  callEvents: true
logging:
  level: warn
  modules:
    orders.payment: debug
    omnitron.rpc: off
  format: json
processes:
  api:
    command: node api.js
  worker:
    command: python3 worker.py
    env:
      OMNITRON_LOG: trace
"#;
    let c = omnitron::config::LoadedConfig { path, config: parse(text, "omnitron.yaml", &env).unwrap() };
    let env_of = |name: &str| child_env(&c, name);
    let api = env_of("api");
    let filter = api("OMNITRON_LOG").unwrap();
    let parsed = omnitron::log::Filter::parse(&filter).unwrap();
    assert_eq!(parsed.to_string(), "warn,omnitron.rpc=off,orders.payment=debug");
    assert_eq!(api("OMNITRON_LOG_FORMAT").as_deref(), Some("json"));
    assert_eq!(api("OMNITRON_CALL_EVENTS").as_deref(), Some("1"));
    assert_eq!(env_of("worker")("OMNITRON_LOG").as_deref(), Some("trace"), "the process's own env wins");

    for (section, key) in [
        ("logging:\n  level: loud\n", "logging.level: 'loud' is not a level"),
        ("logging:\n  modules:\n    rpc: chatty\n", "logging.modules.rpc: 'chatty' is not a level"),
        ("logging:\n  format: xml\n", "logging.format: 'xml'"),
        ("logging:\n  levels: info\n", "levels"),
    ] {
        let e = parse(section, "omnitron.yaml", &env).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidConfig, "{section}");
        assert!(e.message().contains(key) && e.message().contains("omnitron.yaml"), "{section} -> {e}");
    }
}

/// What process `name` gets in its environment, as a lookup (the last setting of a key wins).
fn child_env(c: &omnitron::config::LoadedConfig, name: &str) -> impl Fn(&str) -> Option<String> + use<> {
    let (_, p) = c.config.processes.iter().find(|(n, _)| n == name).unwrap();
    let vars = c.child_options(name, p).unwrap().spec.env;
    move |k: &str| vars.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.clone())
}

#[test]
fn the_status_page_section_sets_how_many_spans_each_process_keeps_and_bad_values_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"
status:
  listen: 127.0.0.1:9090
  traces: 50
tracing:
  exporter: none
processes:
  api:
    command: node api.js
"#;
    let config = parse(text, "omnitron.yaml", &env).unwrap();
    assert_eq!(
        (config.status.enabled, config.status.listen.as_str(), config.status.traces),
        (true, "127.0.0.1:9090", 50)
    );
    let c = omnitron::config::LoadedConfig { path: dir.path().join("omnitron.yaml"), config };
    assert_eq!(child_env(&c, "api")("OMNITRON_TRACE_RECENT").as_deref(), Some("50"));

    // By default: on, a free loopback port, 1024 spans, and nothing kept while tracing is off.
    let text = "processes:\n  api:\n    command: node api.js\n";
    let config = parse(text, "omnitron.yaml", &env).unwrap();
    assert_eq!(
        (config.status.enabled, config.status.listen.as_str(), config.status.traces),
        (true, "127.0.0.1:0", 1024)
    );
    let c = omnitron::config::LoadedConfig { path: dir.path().join("omnitron.yaml"), config };
    assert_eq!(child_env(&c, "api")("OMNITRON_TRACE_RECENT"), None);

    for (section, key) in [
        ("status:\n  listen: nowhere\n", "status.listen: 'nowhere' is not host:port"),
        ("status:\n  listen: ':80'\n", "status.listen"),
        ("status:\n  traces: 20000\n", "status.traces: 20000"),
        ("status:\n  port: 80\n", "port"),
        ("status:\n  enabled: maybe\n", "enabled"),
    ] {
        let e = parse(section, "omnitron.yaml", &env).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidConfig, "{section}");
        assert!(e.message().contains(key) && e.message().contains("omnitron.yaml"), "{section} -> {e}");
    }
}
