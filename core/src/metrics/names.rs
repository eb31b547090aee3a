//! Which metric and label names Prometheus accepts.

use crate::error::{Error, ErrorCode, Result};

/// Metric names: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub(crate) fn check_metric_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok = match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
            chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::InvalidMetricName,
            format!(
                "invalid metric name '{name}': use letters, digits, '_' and ':', not starting with a digit (for example '{}')",
                suggest(name)
            ),
        ))
    }
}

/// Label names: `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__` (reserved), and not `le` or
/// `quantile` (used by histograms and summaries).
pub(crate) fn check_label_name(metric: &str, name: &str, histogram: bool) -> Result<()> {
    let mut chars = name.chars();
    let valid = match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {
            chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        _ => false,
    };
    let why = if !valid {
        Some("use letters, digits and '_', not starting with a digit")
    } else if name.starts_with("__") {
        Some("names starting with '__' are reserved by Prometheus")
    } else if histogram && name == "le" {
        Some("'le' is the bucket label of histograms")
    } else if name == "quantile" {
        Some("'quantile' is reserved for summaries")
    } else {
        None
    };
    match why {
        None => Ok(()),
        Some(why) => Err(Error::new(
            ErrorCode::InvalidMetricName,
            format!("invalid label name '{name}' on metric '{metric}': {why}"),
        )),
    }
}

/// A valid name close to `name` (dots and dashes become underscores).
pub(crate) fn suggest(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == ':' { c } else { '_' })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names() {
        for ok in ["a", "http_requests_total", "ns:sub_total", "_x", "A1"] {
            assert!(check_metric_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1abc", "users.findOne", "a-b", "é"] {
            let e = check_metric_name(bad).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidMetricName, "{bad}");
        }
        assert!(check_metric_name("users.findOne").unwrap_err().message().contains("users_findOne"));
    }

    #[test]
    fn label_names() {
        assert!(check_label_name("m", "status", true).is_ok());
        assert!(check_label_name("m", "le", false).is_ok());
        for bad in ["", "1a", "__x", "a.b", "quantile"] {
            assert!(check_label_name("m", bad, false).is_err(), "{bad}");
        }
        assert!(check_label_name("m", "le", true).is_err());
    }
}
