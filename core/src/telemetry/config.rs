//! What tracing does in a process: where spans go, which traces are sampled, and how much waits
//! to be exported. Read from the standard OpenTelemetry variables (`OTEL_*`), which the supervisor
//! also sets for each child from `omnitron.yaml`'s `tracing:` section, or built in code.

use std::time::Duration;

use crate::error::{Error, ErrorCode, Result};

/// Which traces without a sampled parent are recorded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampler {
    /// Every trace.
    AlwaysOn,
    /// None.
    AlwaysOff,
    /// This share of traces (0 to 1), decided from the trace id, so that every process decides the
    /// same for one trace.
    Ratio(f64),
}

impl Sampler {
    fn ratio(self) -> f64 {
        match self {
            Sampler::AlwaysOn => 1.0,
            Sampler::AlwaysOff => 0.0,
            Sampler::Ratio(r) => r,
        }
    }

    /// Whether a trace this sampler starts (or meets without a parent) is sampled: the trace id's
    /// low 63 bits against the ratio, as OpenTelemetry's `TraceIdRatioBased` does.
    pub fn samples(self, trace_id: u128) -> bool {
        let r = self.ratio();
        if r >= 1.0 {
            return true;
        }
        let bound = (r.max(0.0) * (1u64 << 63) as f64) as u64;
        ((trace_id as u64) >> 1) < bound
    }
}

/// Where finished spans go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exporter {
    /// Nowhere: trace context is still made and passed on (logs carry its ids), nothing is sent.
    None,
    /// OTLP over HTTP with protobuf bodies, POSTed to this URL (`http://host:port/v1/traces`).
    Otlp {
        /// The full URL spans are POSTed to.
        endpoint: String,
        /// Extra headers sent with each export (`OTEL_EXPORTER_OTLP_HEADERS`).
        headers: Vec<(String, String)>,
        /// How long one export may take before it is given up (its spans counted as dropped).
        timeout: Duration,
    },
}

/// Tracing settings for one process.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceConfig {
    /// `service.name` on every span this process exports.
    pub service_name: String,
    /// More resource attributes (`OTEL_RESOURCE_ATTRIBUTES`).
    pub resource: Vec<(String, String)>,
    /// Where spans go.
    pub exporter: Exporter,
    /// Which root traces are sampled. A call with a parent follows the parent's decision (the
    /// parent-based sampler is the only one, as OpenTelemetry's default is).
    pub sampler: Sampler,
    /// Spans waiting for export beyond this are dropped and counted
    /// (`omnitron_trace_spans_dropped_total`); memory never grows past it.
    pub max_queue: usize,
    /// Spans per export request.
    pub batch_size: usize,
    /// How often the waiting spans are exported when fewer than a batch wait.
    pub delay: Duration,
    /// How many of the latest finished spans this process keeps to show on the status page
    /// (`OMNITRON_TRACE_RECENT`, which `omnitron start` sets for its children; 0: none). Spans are
    /// recorded when this is above 0 even if nothing is exported.
    pub keep_recent: usize,
}

/// OpenTelemetry's batch span processor defaults, except the delay: 1 s rather than 5 s, so that
/// a trace appears in a viewer while one still looks at the request that made it.
const MAX_QUEUE: usize = 2048;
const BATCH_SIZE: usize = 512;
const DELAY: Duration = Duration::from_millis(1000);
const TIMEOUT: Duration = Duration::from_secs(10);
/// The most spans a process keeps for the status page.
pub(super) const MAX_RECENT: usize = 10_000;
/// The shortest export delay: the exporter waits at least this long between looks at an empty
/// queue.
pub(super) const MIN_DELAY: Duration = Duration::from_millis(1);

impl TraceConfig {
    /// Exports to an OTLP/HTTP endpoint: a base URL (`http://localhost:4318`, to which
    /// `/v1/traces` is added) or the full traces URL (one whose path is not `/`). Every trace
    /// sampled.
    pub fn otlp(service_name: impl Into<String>, endpoint: &str) -> Result<TraceConfig> {
        Ok(TraceConfig {
            exporter: Exporter::Otlp {
                // A full traces URL is used as given; a bare one gets `/v1/traces`.
                endpoint: check_endpoint("endpoint", endpoint, !has_path(endpoint))?,
                headers: Vec::new(),
                timeout: TIMEOUT,
            },
            ..TraceConfig::propagate_only(service_name)
        })
    }

    /// Makes and passes on trace context, exports nothing.
    pub fn propagate_only(service_name: impl Into<String>) -> TraceConfig {
        TraceConfig {
            service_name: service_name.into(),
            resource: Vec::new(),
            exporter: Exporter::None,
            sampler: Sampler::AlwaysOn,
            max_queue: MAX_QUEUE,
            batch_size: BATCH_SIZE,
            delay: DELAY,
            keep_recent: 0,
        }
    }

    /// With this sampler for root traces.
    pub fn sampler(mut self, s: Sampler) -> Result<TraceConfig> {
        if let Sampler::Ratio(r) = s
            && !(0.0..=1.0).contains(&r)
        {
            return Err(invalid(format!("sampler: the ratio {r} is not between 0 and 1")));
        }
        self.sampler = s;
        Ok(self)
    }

    /// From the standard variables, or None when they ask for no tracing: tracing is on when
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
    /// `OTEL_TRACES_EXPORTER` is set, and `OTEL_SDK_DISABLED` is not `true`. A value that cannot
    /// be used is an error naming the variable (`P007`).
    pub fn from_env(default_service: &str) -> Result<Option<TraceConfig>> {
        Self::from_vars(default_service, |k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
    }

    /// [`TraceConfig::from_env`] over any source of variables (what the tests and the CLI's check use).
    pub fn from_vars(
        default_service: &str,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<TraceConfig>> {
        if var("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        let traces_endpoint = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
        let base_endpoint = var("OTEL_EXPORTER_OTLP_ENDPOINT");
        let exporter = var("OTEL_TRACES_EXPORTER");
        if traces_endpoint.is_none() && base_endpoint.is_none() && exporter.is_none() {
            return Ok(None);
        }
        let resource = match var("OTEL_RESOURCE_ATTRIBUTES") {
            Some(v) => parse_pairs("OTEL_RESOURCE_ATTRIBUTES", &v)?,
            None => Vec::new(),
        };
        // OTEL_SERVICE_NAME, else `service.name` among the resource attributes, else the default.
        let service_name = var("OTEL_SERVICE_NAME")
            .or_else(|| resource.iter().find(|(k, _)| k == "service.name").map(|(_, v)| v.clone()))
            .unwrap_or_else(|| default_service.to_string());
        let mut cfg = TraceConfig::propagate_only(service_name);
        cfg.resource = resource;
        // A list, as the specification allows (`otlp,console`): each must be one this engine has.
        let exporter = match exporter {
            None => None,
            Some(list) => {
                let names: Vec<String> = list
                    .split(',')
                    .map(|e| e.trim().to_ascii_lowercase())
                    .filter(|e| !e.is_empty())
                    .collect();
                if let Some(bad) = names.iter().find(|n| *n != "otlp" && *n != "none") {
                    return Err(invalid(format!(
                        "OTEL_TRACES_EXPORTER: '{bad}' is not an exporter this engine has; it has 'otlp' and 'none'"
                    )));
                }
                Some(if names.iter().any(|n| n == "otlp") { "otlp".to_string() } else { "none".to_string() })
            }
        };
        match exporter.as_deref() {
            None | Some("otlp") => {
                let protocol = var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                    .map(|p| ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", p))
                    .or_else(|| {
                        var("OTEL_EXPORTER_OTLP_PROTOCOL").map(|p| ("OTEL_EXPORTER_OTLP_PROTOCOL", p))
                    });
                if let Some((name, p)) = protocol
                    && p.trim() != "http/protobuf"
                {
                    return Err(invalid(format!(
                        "{name}: '{}' is not a protocol this engine exports with; it has 'http/protobuf'",
                        p.trim()
                    )));
                }
                let endpoint = match (traces_endpoint, base_endpoint) {
                    (Some(e), _) => check_endpoint("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &e, false)?,
                    (None, Some(e)) => check_endpoint("OTEL_EXPORTER_OTLP_ENDPOINT", &e, true)?,
                    // The specification's default endpoint.
                    (None, None) => "http://localhost:4318/v1/traces".to_string(),
                };
                let headers = match var("OTEL_EXPORTER_OTLP_TRACES_HEADERS") {
                    Some(h) => parse_pairs("OTEL_EXPORTER_OTLP_TRACES_HEADERS", &h)?,
                    None => match var("OTEL_EXPORTER_OTLP_HEADERS") {
                        Some(h) => parse_pairs("OTEL_EXPORTER_OTLP_HEADERS", &h)?,
                        None => Vec::new(),
                    },
                };
                let timeout = match var("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT") {
                    Some(t) => millis("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", &t)?,
                    None => match var("OTEL_EXPORTER_OTLP_TIMEOUT") {
                        Some(t) => millis("OTEL_EXPORTER_OTLP_TIMEOUT", &t)?,
                        None => TIMEOUT,
                    },
                };
                cfg.exporter = Exporter::Otlp { endpoint, headers, timeout };
            }
            Some("none") => {}
            Some(other) => {
                return Err(invalid(format!(
                    "OTEL_TRACES_EXPORTER: '{other}' is not an exporter this engine has; it has 'otlp' and 'none'"
                )));
            }
        }
        cfg.sampler = sampler_from(var("OTEL_TRACES_SAMPLER"), var("OTEL_TRACES_SAMPLER_ARG"))?;
        if let Some(v) = var("OTEL_BSP_MAX_QUEUE_SIZE") {
            cfg.max_queue = count("OTEL_BSP_MAX_QUEUE_SIZE", &v)?;
        }
        if let Some(v) = var("OTEL_BSP_MAX_EXPORT_BATCH_SIZE") {
            cfg.batch_size = count("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", &v)?;
        }
        if let Some(v) = var("OTEL_BSP_SCHEDULE_DELAY") {
            cfg.delay = millis("OTEL_BSP_SCHEDULE_DELAY", &v)?.max(MIN_DELAY);
        }
        cfg.batch_size = cfg.batch_size.min(cfg.max_queue);
        if let Some(v) = var("OMNITRON_TRACE_RECENT") {
            cfg.keep_recent =
                v.trim().parse::<usize>().ok().filter(|n| *n <= MAX_RECENT).ok_or_else(|| {
                    invalid(format!(
                        "OMNITRON_TRACE_RECENT: '{}' is not a count from 0 to {MAX_RECENT}",
                        v.trim()
                    ))
                })?;
        }
        Ok(Some(cfg))
    }
}

/// The sampler the variables name. Every sampler is parent-based here: `always_on`,
/// `traceidratio` and their `parentbased_` forms differ only for a call whose parent was not
/// sampled, and following the parent keeps traces whole across processes.
fn sampler_from(name: Option<String>, arg: Option<String>) -> Result<Sampler> {
    let name = name.map(|n| n.trim().to_ascii_lowercase());
    let ratio = || -> Result<f64> {
        let Some(a) = &arg else { return Ok(1.0) };
        match a.trim().parse::<f64>() {
            Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
            _ => Err(invalid(format!(
                "OTEL_TRACES_SAMPLER_ARG: '{}' is not a ratio between 0 and 1",
                a.trim()
            ))),
        }
    };
    match name.as_deref() {
        None | Some("parentbased_always_on") | Some("always_on") => Ok(Sampler::AlwaysOn),
        Some("parentbased_always_off") | Some("always_off") => Ok(Sampler::AlwaysOff),
        Some("parentbased_traceidratio") | Some("traceidratio") => Ok(Sampler::Ratio(ratio()?)),
        Some(other) => Err(invalid(format!(
            "OTEL_TRACES_SAMPLER: '{other}' is not a sampler this engine has; it has 'parentbased_always_on', \
             'parentbased_always_off', 'parentbased_traceidratio' (and the same without 'parentbased_')"
        ))),
    }
}

/// Whether an URL has a path beyond `/`.
fn has_path(url: &str) -> bool {
    let rest = url.trim().split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').is_some_and(|i| !rest[i..].trim_end_matches('/').is_empty())
}

/// Checks an endpoint URL: `http://host[:port][/path]`. A base endpoint (`base`) gets `/v1/traces`
/// appended, as the OpenTelemetry specification says for `OTEL_EXPORTER_OTLP_ENDPOINT`.
fn check_endpoint(name: &str, url: &str, base: bool) -> Result<String> {
    let url = url.trim();
    let bad = |why: &str| invalid(format!("{name}: '{url}' is not an endpoint: {why}"));
    let rest = match url.split_once("://") {
        Some(("http", rest)) => rest,
        Some(("https", _)) => {
            return Err(bad(
                "https is not supported yet; export to a collector over http (a local agent or sidecar)",
            ));
        }
        _ => return Err(bad("it must start with http://")),
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let parsed = super::export::Target::parse(authority, "/");
    if authority.is_empty() || parsed.is_none() {
        return Err(bad("it needs a host, and a port between 1 and 65535 if it gives one"));
    }
    let path = if base {
        format!("{}/v1/traces", path.trim_end_matches('/'))
    } else if path.is_empty() {
        "/".to_string()
    } else {
        path.to_string()
    };
    Ok(format!("http://{authority}{path}"))
}

/// `key=value,key=value` (the values percent-decoded), as OpenTelemetry writes headers and
/// resource attributes.
fn parse_pairs(name: &str, v: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((k, val)) = item.split_once('=') else {
            return Err(invalid(format!("{name}: '{item}' is not key=value")));
        };
        let k = k.trim();
        if k.is_empty() || k.bytes().any(|b| b.is_ascii_control()) {
            return Err(invalid(format!("{name}: '{item}' has no usable key")));
        }
        let val =
            percent_decode(val.trim()).filter(|s| !s.bytes().any(|b| b == b'\r' || b == b'\n')).ok_or_else(
                || invalid(format!("{name}: the value of '{k}' is not valid (percent-encoded UTF-8)")),
            )?;
        out.push((k.to_string(), val));
    }
    Ok(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn millis(name: &str, v: &str) -> Result<Duration> {
    match v.trim().parse::<u64>() {
        Ok(ms) => Ok(Duration::from_millis(ms)),
        Err(_) => Err(invalid(format!("{name}: '{}' is not a whole number of milliseconds", v.trim()))),
    }
}

fn count(name: &str, v: &str) -> Result<usize> {
    match v.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(invalid(format!("{name}: '{}' is not a whole number above 0", v.trim()))),
    }
}

fn invalid(message: String) -> Error {
    Error::new(ErrorCode::InvalidConfig, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn nothing_set_means_no_tracing() {
        assert_eq!(TraceConfig::from_vars("svc", vars(&[])).unwrap(), None);
        let off = vars(&[("OTEL_SDK_DISABLED", "true"), ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://x:4318")]);
        assert_eq!(TraceConfig::from_vars("svc", off).unwrap(), None);
    }

    #[test]
    fn the_endpoint_variables_follow_the_specification() {
        let c =
            TraceConfig::from_vars("svc", vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")]))
                .unwrap()
                .unwrap();
        assert!(
            matches!(c.exporter, Exporter::Otlp { ref endpoint, .. } if endpoint == "http://collector:4318/v1/traces")
        );
        // In code: a bare URL gets the path, a full one is kept.
        for (url, want) in [
            ("http://c:4318", "http://c:4318/v1/traces"),
            ("http://c:4318/", "http://c:4318/v1/traces"),
            ("http://c:4318/v1/traces", "http://c:4318/v1/traces"),
            ("http://c:4318/custom/path", "http://c:4318/custom/path"),
        ] {
            let c = TraceConfig::otlp("s", url).unwrap();
            assert!(matches!(c.exporter, Exporter::Otlp { ref endpoint, .. } if endpoint == want), "{url}");
        }
        // service.name from the resource attributes when OTEL_SERVICE_NAME is not set; a list of
        // exporters.
        let named = TraceConfig::from_vars(
            "peer",
            vars(&[
                ("OTEL_TRACES_EXPORTER", "otlp,none"),
                ("OTEL_RESOURCE_ATTRIBUTES", "service.name=billing,team=x"),
            ]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(named.service_name, "billing");
        assert!(matches!(named.exporter, Exporter::Otlp { .. }));
        assert_eq!(c.service_name, "svc");
        let c = TraceConfig::from_vars(
            "svc",
            vars(&[
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:9999/custom"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:1"),
                ("OTEL_SERVICE_NAME", "orders"),
                ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=a%20b,x=1"),
                ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
            ]),
        )
        .unwrap()
        .unwrap();
        let Exporter::Otlp { endpoint, headers, .. } = &c.exporter else { panic!("otlp") };
        assert_eq!(endpoint, "http://127.0.0.1:9999/custom");
        assert_eq!(
            headers,
            &[("api-key".to_string(), "a b".to_string()), ("x".to_string(), "1".to_string())]
        );
        assert_eq!(c.service_name, "orders");
        assert_eq!(c.sampler, Sampler::Ratio(0.25));
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (pairs, needle) in [
            (vec![("OTEL_TRACES_EXPORTER", "zipkin")], "OTEL_TRACES_EXPORTER: 'zipkin'"),
            (
                vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")],
                "OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318'",
            ),
            (vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:99999")], "OTEL_EXPORTER_OTLP_ENDPOINT"),
            (vec![("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://")], "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
            (
                vec![
                    ("OTEL_TRACES_EXPORTER", "otlp"),
                    ("OTEL_TRACES_SAMPLER", "traceidratio"),
                    ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
                ],
                "OTEL_TRACES_SAMPLER_ARG: '1.5'",
            ),
            (
                vec![("OTEL_TRACES_EXPORTER", "none"), ("OTEL_TRACES_SAMPLER", "sometimes")],
                "OTEL_TRACES_SAMPLER: 'sometimes'",
            ),
            (
                vec![("OTEL_TRACES_EXPORTER", "otlp"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")],
                "OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc'",
            ),
            (
                vec![("OTEL_TRACES_EXPORTER", "none"), ("OTEL_BSP_MAX_QUEUE_SIZE", "0")],
                "OTEL_BSP_MAX_QUEUE_SIZE",
            ),
        ] {
            let e = TraceConfig::from_vars("svc", vars(&pairs)).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidConfig);
            assert!(e.to_string().contains(needle), "{e} should contain {needle}");
        }
    }

    #[test]
    fn the_ratio_sampler_splits_trace_ids() {
        assert!(Sampler::AlwaysOn.samples(0));
        assert!(!Sampler::AlwaysOff.samples(u128::MAX >> 65));
        assert!(!Sampler::Ratio(0.0).samples(0));
        let half = Sampler::Ratio(0.5);
        let sampled = (0..10_000u32).filter(|_| half.samples(super::super::context::new_trace_id())).count();
        assert!((4_000..6_000).contains(&sampled), "{sampled} of 10000 sampled at 0.5");
    }
}
