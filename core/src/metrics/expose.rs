//! Exposition: the Prometheus text format (0.0.4), OpenMetrics 1.0, and a snapshot as plain data.

use std::fmt::Write as _;

use serde::Serialize;

use super::family::{Family, MetricKind};
use super::registry::Registry;

/// Content type of [`Registry::gather_text`].
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Content type of [`Registry::gather_openmetrics`].
pub const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn number(v: f64) -> String {
    if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else if v.is_nan() {
        "NaN".into()
    } else {
        format!("{v}")
    }
}

/// A bucket bound as OpenMetrics wants it (canonical: `1.0`, not `1`), valid in both formats.
fn le(v: f64) -> String {
    format!("{v:?}")
}

fn labels(names: &[String], values: &[String], extra: Option<(&str, &str)>) -> String {
    let mut parts: Vec<String> =
        names.iter().zip(values).map(|(n, v)| format!("{n}=\"{}\"", escape_label(v))).collect();
    if let Some((n, v)) = extra {
        parts.push(format!("{n}=\"{v}\""));
    }
    if parts.is_empty() { String::new() } else { format!("{{{}}}", parts.join(",")) }
}

fn write_family(out: &mut String, f: &Family, openmetrics: bool) {
    // OpenMetrics names a counter family without `_total` and its sample with it.
    let family_name = match (openmetrics, f.kind) {
        (true, MetricKind::Counter) => f.name.strip_suffix("_total").unwrap_or(&f.name).to_string(),
        _ => f.name.clone(),
    };
    if !f.help.is_empty() {
        let _ = writeln!(out, "# HELP {family_name} {}", escape_help(&f.help));
    }
    let _ = writeln!(out, "# TYPE {family_name} {}", f.kind.as_str());
    for s in f.all_series() {
        match f.kind {
            MetricKind::Counter => {
                let sample = if openmetrics { format!("{family_name}_total") } else { f.name.clone() };
                let _ = writeln!(
                    out,
                    "{sample}{} {}",
                    labels(&f.label_names, &s.labels, None),
                    number(s.total(0))
                );
            }
            MetricKind::Gauge => {
                let _ = writeln!(
                    out,
                    "{}{} {}",
                    f.name,
                    labels(&f.label_names, &s.labels, None),
                    number(s.total(0))
                );
            }
            MetricKind::Histogram => {
                let n = f.buckets.len();
                let mut cumulative = 0.0;
                for (i, bound) in f.buckets.iter().map(|b| le(*b)).chain(["+Inf".to_string()]).enumerate() {
                    cumulative += s.total(i);
                    let l = labels(&f.label_names, &s.labels, Some(("le", &bound)));
                    let _ = writeln!(out, "{}_bucket{l} {}", f.name, number(cumulative));
                }
                let l = labels(&f.label_names, &s.labels, None);
                let _ = writeln!(out, "{}_sum{l} {}", f.name, number(s.total(n + 1)));
                let _ = writeln!(out, "{}_count{l} {}", f.name, number(s.total(n + 2)));
            }
        }
    }
}

impl Registry {
    /// Every metric in the Prometheus text format (version 0.0.4).
    pub fn gather_text(&self) -> String {
        let mut out = String::new();
        for f in self.families() {
            write_family(&mut out, &f, false);
        }
        out
    }

    /// Every metric in the OpenMetrics 1.0 text format (ends with `# EOF`).
    pub fn gather_openmetrics(&self) -> String {
        let mut out = String::new();
        for f in self.families() {
            write_family(&mut out, &f, true);
        }
        out.push_str("# EOF\n");
        out
    }

    /// Every metric as plain data (serializable).
    pub fn snapshot(&self) -> Vec<FamilySnapshot> {
        self.families()
            .iter()
            .map(|f| FamilySnapshot {
                name: f.name.clone(),
                help: f.help.clone(),
                kind: f.kind,
                label_names: f.label_names.clone(),
                series: f
                    .all_series()
                    .iter()
                    .map(|s| SeriesSnapshot {
                        labels: f.label_names.iter().cloned().zip(s.labels.iter().cloned()).collect(),
                        value: match f.kind {
                            MetricKind::Counter | MetricKind::Gauge => SampleValue::Number(s.total(0)),
                            MetricKind::Histogram => {
                                let n = f.buckets.len();
                                let mut cumulative = 0.0;
                                let buckets = f
                                    .buckets
                                    .iter()
                                    .copied()
                                    .chain([f64::INFINITY])
                                    .enumerate()
                                    .map(|(i, le)| {
                                        cumulative += s.total(i);
                                        BucketSnapshot { le, count: cumulative }
                                    })
                                    .collect();
                                SampleValue::Histogram { buckets, sum: s.total(n + 1), count: s.total(n + 2) }
                            }
                        },
                    })
                    .collect(),
            })
            .collect()
    }

    /// [`Registry::snapshot`] as JSON (`+Inf` bucket bounds as the string `"+Inf"`).
    pub fn snapshot_json(&self) -> String {
        serde_json::to_string(&self.snapshot()).unwrap_or_else(|_| "[]".into())
    }
}

/// One metric in a snapshot.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FamilySnapshot {
    /// Name.
    pub name: String,
    /// Help text.
    pub help: String,
    /// Type.
    #[serde(rename = "type")]
    pub kind: MetricKind,
    /// Label names.
    pub label_names: Vec<String>,
    /// One entry per label set.
    pub series: Vec<SeriesSnapshot>,
}

/// One series in a snapshot.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SeriesSnapshot {
    /// Label name to value.
    pub labels: std::collections::BTreeMap<String, String>,
    /// The value.
    pub value: SampleValue,
}

/// A series' value.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum SampleValue {
    /// A counter's or gauge's value.
    Number(f64),
    /// A histogram's cumulative buckets, sum and count.
    Histogram {
        /// Cumulative counts per upper bound (the last is +Inf).
        buckets: Vec<BucketSnapshot>,
        /// Sum of observations.
        sum: f64,
        /// Number of observations.
        count: f64,
    },
}

/// One cumulative histogram bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketSnapshot {
    /// Upper bound (inclusive).
    pub le: f64,
    /// Observations at or below it.
    pub count: f64,
}

impl Serialize for BucketSnapshot {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("BucketSnapshot", 2)?;
        if self.le.is_finite() {
            st.serialize_field("le", &self.le)?;
        } else {
            st.serialize_field("le", "+Inf")?;
        }
        st.serialize_field("count", &self.count)?;
        st.end()
    }
}
