//! `kubectl get`-like output: left-aligned columns three spaces apart, ages as kubectl
//! prints them, and who wrote an object (its field managers).

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

/// A table printed as kubectl prints one.
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn print(&self) {
        if self.rows.is_empty() {
            println!("    (none)");
            return;
        }
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.len()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(cell.chars().count());
                }
            }
        }
        let line = |cells: &[String]| {
            let text: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            println!("    {}", text.join("   ").trim_end());
        };
        line(&self.headers);
        for row in &self.rows {
            line(row);
        }
    }
}

/// kubectl's short age: `7s`, `3m12s`, `15m`, `2h`.
pub fn age(created: Option<&Time>) -> String {
    let Some(created) = created else {
        return "<unknown>".into();
    };
    let secs = Timestamp::now().duration_since(created.0).as_secs().max(0);
    match secs {
        0..120 => format!("{secs}s"),
        120..600 => format!("{}m{}s", secs / 60, secs % 60),
        600..7200 => format!("{}m", secs / 60),
        _ => format!("{}h", secs / 3600),
    }
}

/// The field manager that created the object (its first managed-fields entry), which names
/// the process: `kcm-rs`, `kube-controller-manager`, `kube-scheduler`, `kcm-virtual-node`, …
pub fn created_by(meta: &ObjectMeta) -> String {
    meta.managed_fields
        .iter()
        .flatten()
        .find(|f| f.subresource.as_deref().unwrap_or("").is_empty())
        .and_then(|f| f.manager.clone())
        .unwrap_or_else(|| "?".into())
}

/// The field manager that wrote `subresource` (e.g. `status`, `binding`).
pub fn written_by(meta: &ObjectMeta, subresource: &str) -> String {
    meta.managed_fields
        .iter()
        .flatten()
        .filter(|f| f.subresource.as_deref() == Some(subresource))
        .filter_map(|f| f.manager.clone())
        .collect::<Vec<_>>()
        .join(",")
}
