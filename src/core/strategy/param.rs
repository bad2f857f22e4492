//! The `key=value` parameters of a strategy's text form: reading integers, booleans and
//! durations with typed refusals ([`StrategyError`]), and writing durations back.

use std::time::Duration;

/// Why a strategy's text form was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrategyError {
    /// No strategy name (an empty text or an empty item in a list).
    #[error("empty strategy")]
    Empty,
    #[error("unknown strategy {0:?} (expected flood, ring or walk)")]
    /// A name other than `flood`, `ring` or `walk`.
    UnknownName(String),
    #[error("{strategy}: unknown parameter {key:?}")]
    /// A key the strategy does not take.
    UnknownKey {
        /// The strategy's name.
        strategy: &'static str,
        /// The key as given.
        key: String,
    },
    #[error("{strategy}: parameter {key}: bad value {value:?} ({why})")]
    /// A value that does not parse or is out of range (e.g. a TTL above 15, a ring start
    /// above its max).
    BadValue {
        /// The strategy's name.
        strategy: &'static str,
        /// The parameter's key.
        key: String,
        /// The value as given.
        value: String,
        /// What is wrong with it.
        why: &'static str,
    },
    #[error("{strategy}: parameter {0:?} has no '=value'", strategy = .1)]
    /// A parameter without `=value`: the text given and the strategy's name.
    MissingValue(String, &'static str),
}

/// One `key=value` of a strategy's text form.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Param<'a> {
    pub strategy: &'static str,
    pub key: &'a str,
    pub value: &'a str,
}

impl Param<'_> {
    pub(crate) fn bad(&self, why: &'static str) -> StrategyError {
        StrategyError::BadValue {
            strategy: self.strategy,
            key: self.key.to_owned(),
            value: self.value.to_owned(),
            why,
        }
    }

    pub(crate) fn unknown(&self) -> StrategyError {
        StrategyError::UnknownKey {
            strategy: self.strategy,
            key: self.key.to_owned(),
        }
    }

    /// An integer in `lo..=hi`.
    pub(crate) fn int<T: TryFrom<u64> + Copy>(&self, lo: u64, hi: u64) -> Result<T, StrategyError> {
        let n: u64 = self.value.parse().map_err(|_| self.bad("not a number"))?;
        if !(lo..=hi).contains(&n) {
            return Err(self.bad("out of range"));
        }
        T::try_from(n).map_err(|_| self.bad("out of range"))
    }

    pub(crate) fn boolean(&self) -> Result<bool, StrategyError> {
        match self.value {
            "true" | "yes" | "1" => Ok(true),
            "false" | "no" | "0" => Ok(false),
            _ => Err(self.bad("expected true or false")),
        }
    }

    /// `auto` (None) or a duration: `250ms`, `2s`, `1.5s`.
    pub(crate) fn duration_or_auto(&self) -> Result<Option<Duration>, StrategyError> {
        if self.value == "auto" {
            return Ok(None);
        }
        let (num, unit) = if let Some(n) = self.value.strip_suffix("ms") {
            (n, 1e-3)
        } else if let Some(n) = self.value.strip_suffix('s') {
            (n, 1.0)
        } else {
            return Err(self.bad("expected auto or a duration such as 250ms or 2s"));
        };
        let secs: f64 = num
            .parse()
            .map_err(|_| self.bad("expected auto or a duration such as 250ms or 2s"))?;
        let secs = secs * unit;
        if !(0.0..=3600.0).contains(&secs) || secs == 0.0 {
            return Err(self.bad("must be above 0 and at most 3600s"));
        }
        Ok(Some(Duration::from_secs_f64(secs)))
    }
}

/// Writes a duration the way [`Param::duration_or_auto`] reads it.
pub(crate) fn fmt_duration(d: Option<Duration>) -> String {
    match d {
        None => "auto".to_owned(),
        Some(d) if d.subsec_nanos() % 1_000_000 == 0 && d.as_millis() % 1000 != 0 => {
            format!("{}ms", d.as_millis())
        }
        Some(d) if d.subsec_nanos() == 0 => format!("{}s", d.as_secs()),
        Some(d) => format!("{}s", d.as_secs_f64()),
    }
}
