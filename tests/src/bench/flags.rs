//! The benchmark's command line: `--key=value` flags and bare contender names.
//!
//! Every workload reads the keys it knows ([`Flags::get`]); once all have read theirs,
//! [`Flags::finish`] refuses any key nobody asked for, so a typo is an error rather than a
//! silently ignored setting.

use std::{
    cell::RefCell,
    collections::{BTreeMap, BTreeSet},
    str::FromStr,
};

use anyhow::bail;

/// Parsed `--key=value` flags (the last occurrence wins) and the bare words in order.
#[derive(Debug, Default)]
pub struct Flags {
    values: BTreeMap<String, String>,
    words: Vec<String>,
    asked: RefCell<BTreeSet<String>>,
}

impl Flags {
    /// Splits `args` (without the program name). `--key` alone means `--key=true`.
    pub fn parse(args: impl IntoIterator<Item = String>) -> anyhow::Result<Self> {
        let mut flags = Self::default();
        for arg in args {
            match arg.strip_prefix("--") {
                Some(flag) => {
                    let (key, value) = flag.split_once('=').unwrap_or((flag, "true"));
                    if key.is_empty() {
                        bail!("{arg}: expected --KEY=VALUE");
                    }
                    flags.values.insert(key.to_owned(), value.to_owned());
                }
                None => flags.words.push(arg),
            }
        }
        Ok(flags)
    }

    /// The value of `--key`, or `default`.
    pub fn get<T: FromStr>(&self, key: &str, default: T) -> anyhow::Result<T>
    where
        T::Err: std::fmt::Display,
    {
        self.asked.borrow_mut().insert(key.to_owned());
        match self.values.get(key) {
            Some(v) => v.parse().map_err(|e| anyhow::anyhow!("--{key}={v}: {e}")),
            None => Ok(default),
        }
    }

    /// `--key` as a comma-separated list, or `default`.
    pub fn list<T>(&self, key: &str, default: &[T]) -> anyhow::Result<Vec<T>>
    where
        T: FromStr + Clone,
        T::Err: std::fmt::Display,
    {
        self.asked.borrow_mut().insert(key.to_owned());
        match self.values.get(key) {
            Some(v) => v
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| {
                    s.trim()
                        .parse()
                        .map_err(|e| anyhow::anyhow!("--{key}={v}: {s:?}: {e}"))
                })
                .collect(),
            None => Ok(default.to_vec()),
        }
    }

    /// Whether `--key` (or `--key=true`) was given.
    pub fn switch(&self, key: &str) -> anyhow::Result<bool> {
        self.get(key, false)
    }

    /// The bare words (contender names).
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// Fails on any flag no workload asked for, naming the ones that exist.
    pub fn finish(&self) -> anyhow::Result<()> {
        let asked = self.asked.borrow();
        let unknown: Vec<&String> = self.values.keys().filter(|k| !asked.contains(*k)).collect();
        if !unknown.is_empty() {
            let known: Vec<&str> = asked.iter().map(String::as_str).collect();
            bail!(
                "unknown flag(s) {unknown:?} for the selected workloads; known: --{}",
                known.join(" --")
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
