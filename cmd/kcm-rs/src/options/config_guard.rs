//! Bounds on the `--config` file, checked before the YAML parser sees it.
//!
//! A configuration file is a few kilobytes of YAML nested three levels deep. Anything far from
//! that is a mistake (the wrong file, a truncated template, `/dev/zero`), and must fail at once
//! with a short message, not after seconds of parsing or with the whole input echoed back:
//! libyaml's scanner is quadratic in flow nesting (`[[[[…]]]]` 100 000 deep took minutes), and
//! serde's messages quote offending values in full.
//!
//! So: the file is read up to [`MAX_BYTES`]; a linear scan rejects nesting beyond
//! [`MAX_DEPTH`]; the document must be one mapping (checked by a first, cheap pass that also
//! reads `apiVersion` and `kind`, so a file of another kind is named as such before its fields
//! are); and every message quotes at most [`MAX_QUOTE`] characters of the input.

use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, Visitor};

/// Largest accepted file: 25 times the sample config that sets every field, and small enough
/// that even a debug build parses the worst case well within a second.
pub const MAX_BYTES: usize = 128 * 1024;
/// Deepest accepted nesting (block indentation levels plus flow brackets). The schema needs 3.
pub const MAX_DEPTH: usize = 32;
/// Longest excerpt of the input any message quotes.
pub const MAX_QUOTE: usize = 64;

/// A rule the file breaks, before its fields are looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuardError {
    Unreadable(String),
    TooLarge,
    TooDeep { line: usize },
    NotUtf8,
    NotAMapping { got: String },
    Empty,
    MultipleDocuments,
    Syntax(String),
}

impl fmt::Display for GuardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GuardError::Unreadable(err) => write!(f, "cannot read: {err}"),
            GuardError::TooLarge => write!(
                f,
                "larger than {} KiB, the limit for a configuration file",
                MAX_BYTES / 1024
            ),
            GuardError::TooDeep { line } => write!(
                f,
                "nested more than {MAX_DEPTH} levels deep at line {line} (a configuration \
                 needs 3)"
            ),
            GuardError::NotUtf8 => f.write_str("not UTF-8 text"),
            GuardError::NotAMapping { got } => write!(
                f,
                "must be a YAML mapping (apiVersion: ..., kind: ..., fields), got {got}"
            ),
            GuardError::Empty => {
                f.write_str("is empty: must be a YAML mapping with apiVersion and kind")
            }
            GuardError::MultipleDocuments => f.write_str(
                "holds more than one YAML document (a line with ---); it must hold exactly one",
            ),
            GuardError::Syntax(message) => write!(f, "not valid YAML: {message}"),
        }
    }
}

/// Reads `path`, at most [`MAX_BYTES`] of it.
pub fn read(path: &Path) -> Result<String, GuardError> {
    let file = std::fs::File::open(path).map_err(|err| GuardError::Unreadable(err.to_string()))?;
    let mut bytes = Vec::new();
    file.take(MAX_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| GuardError::Unreadable(err.to_string()))?;
    if bytes.len() > MAX_BYTES {
        return Err(GuardError::TooLarge);
    }
    String::from_utf8(bytes).map_err(|_| GuardError::NotUtf8)
}

/// The checks that need no YAML parser: size and nesting depth.
pub fn check_shape(text: &str) -> Result<(), GuardError> {
    if text.len() > MAX_BYTES {
        return Err(GuardError::TooLarge);
    }
    match deepest_line(text) {
        Some(line) => Err(GuardError::TooDeep { line }),
        None => Ok(()),
    }
}

/// The first line where nesting exceeds [`MAX_DEPTH`], by a linear scan that errs towards
/// counting too deep: block depth is the number of open indentation levels (plus one per `- `
/// opening a line's content), flow depth the brackets open. Every opening bracket counts, even
/// in quotes; closing ones count only outside quotes and comments, so no quoting trick can hide
/// real nesting from the scan (libyaml's scanner is quadratic in flow depth). A configuration
/// has no brackets in its strings, so the only cost is a stricter limit for nonsense input.
fn deepest_line(text: &str) -> Option<usize> {
    let mut indents: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    let mut quote: Option<char> = None;
    for (index, line) in text.lines().enumerate() {
        let content = line.trim_start_matches(' ');
        let mut dashes = 0;
        if quote.is_none() && flow == 0 && !content.is_empty() && !content.starts_with('#') {
            let indent = line.len() - content.len();
            while indents.last().is_some_and(|&top| top >= indent) {
                indents.pop();
            }
            indents.push(indent);
            let mut rest = content;
            while let Some(after) = rest.strip_prefix("- ") {
                dashes += 1;
                rest = after.trim_start();
            }
        }
        let block = indents.len() + dashes;
        let mut previous = ' ';
        let mut escaped = false;
        for c in line.chars() {
            if matches!(c, '[' | '{') {
                flow += 1;
            }
            match quote {
                Some('"') if escaped => escaped = false,
                Some('"') if c == '\\' => escaped = true,
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None => match c {
                    '"' | '\'' => quote = Some(c),
                    '#' if previous == ' ' || previous == '\t' => break,
                    ']' | '}' => flow = flow.saturating_sub(1),
                    _ => {}
                },
            }
            if block + flow > MAX_DEPTH {
                return Some(index + 1);
            }
            previous = c;
        }
        if block > MAX_DEPTH {
            return Some(index + 1);
        }
    }
    None
}

/// What the first pass learns about the document.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TypeMeta {
    pub api_version: Option<String>,
    pub kind: Option<String>,
}

/// Checks that `text` is one YAML document whose root is a mapping, and returns its
/// `apiVersion` and `kind` (when they are strings).
pub fn type_meta(text: &str) -> Result<TypeMeta, GuardError> {
    if text
        .lines()
        .all(|line| line.trim().is_empty() || line.trim_start().starts_with('#'))
    {
        return Err(GuardError::Empty);
    }
    let deserializer = serde_yaml::Deserializer::from_str(text);
    match Root::deserialize(deserializer) {
        Ok(Root::Mapping(meta)) => Ok(meta),
        Ok(Root::Other(got)) => Err(GuardError::NotAMapping { got }),
        Err(err) => {
            let message = err.to_string();
            if message.contains("more than one document") {
                Err(GuardError::MultipleDocuments)
            } else {
                Err(GuardError::Syntax(elide(&message)))
            }
        }
    }
}

/// The root node: a mapping (with what it says about itself) or something else, described.
enum Root {
    Mapping(TypeMeta),
    Other(String),
}

impl<'de> Deserialize<'de> for Root {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RootVisitor)
    }
}

struct RootVisitor;

impl<'de> Visitor<'de> for RootVisitor {
    type Value = Root;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Root, A::Error> {
        let mut meta = TypeMeta::default();
        while let Some(key) = map.next_key::<KeyName>()? {
            match key.0.as_deref() {
                Some("apiVersion") => meta.api_version = map.next_value::<Text>()?.0,
                Some("kind") => meta.kind = map.next_value::<Text>()?.0,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Root::Mapping(meta))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Root, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Root::Other("a sequence".to_owned()))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Root, E> {
        Ok(Root::Other(format!("a string {}", quote(v))))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Root, E> {
        Ok(Root::Other(format!("a boolean {v}")))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Root, E> {
        Ok(Root::Other(format!("a number {v}")))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Root, E> {
        Ok(Root::Other(format!("a number {v}")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Root, E> {
        Ok(Root::Other(format!("a number {v}")))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Root, E> {
        Ok(Root::Other("null".to_owned()))
    }

    fn visit_none<E: de::Error>(self) -> Result<Root, E> {
        Ok(Root::Other("null".to_owned()))
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<Root, A::Error> {
        Ok(Root::Other("a tagged value".to_owned()))
    }
}

/// A mapping key: its text if it is a string, `None` for keys of any other type.
struct KeyName(Option<String>);

impl<'de> Deserialize<'de> for KeyName {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Text::deserialize(deserializer).map(|text| KeyName(text.0))
    }
}

/// A value kept if it is a string and skipped otherwise (the second pass reports its type).
struct Text(Option<String>);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(Some(v.to_owned())))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Text, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
            fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Text, A::Error> {
                use de::VariantAccess;
                let (IgnoredAny, variant) = data.variant::<IgnoredAny>()?;
                variant.newtype_variant::<IgnoredAny>()?;
                Ok(Text(None))
            }
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

/// `value` quoted, cut to [`MAX_QUOTE`] characters.
pub fn quote(value: &str) -> String {
    let total = value.chars().count();
    if total <= MAX_QUOTE {
        return format!("{value:?}");
    }
    let head: String = value.chars().take(MAX_QUOTE).collect();
    format!("{head:?}… ({total} characters)")
}

/// A dotted field path with every segment longer than [`MAX_QUOTE`] characters cut short.
pub fn elide_path(path: &str) -> String {
    path.split('.')
        .map(|segment| {
            if segment.chars().count() <= MAX_QUOTE {
                segment.to_owned()
            } else {
                let head: String = segment.chars().take(MAX_QUOTE).collect();
                format!("{head}…")
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// `message` with every quoted run (`"…"` or `` `…` ``) longer than [`MAX_QUOTE`] characters
/// cut short, so that a message never repeats a large part of the input.
pub fn elide(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(4 * MAX_QUOTE + 256));
    let mut chars = message.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c != '"' && c != '`' {
            out.push(c);
            continue;
        }
        // Find the closing quote; Debug-formatted strings escape inner quotes with `\`.
        let mut end = None;
        let mut escaped = false;
        for (i, d) in chars.by_ref() {
            if escaped {
                escaped = false;
            } else if d == '\\' && c == '"' {
                escaped = true;
            } else if d == c {
                end = Some(i);
                break;
            }
        }
        let Some(end) = end else {
            // Unbalanced: keep the rest, bounded.
            let rest = &message[start..];
            out.extend(rest.chars().take(MAX_QUOTE + 1));
            if rest.chars().count() > MAX_QUOTE + 1 {
                out.push('…');
            }
            break;
        };
        let inner = &message[start + 1..end];
        let count = inner.chars().count();
        out.push(c);
        if count <= MAX_QUOTE {
            out.push_str(inner);
            out.push(c);
        } else {
            out.extend(inner.chars().take(MAX_QUOTE));
            out.push(c);
            out.push_str(&format!("… ({count} characters)"));
        }
    }
    out
}

#[cfg(test)]
mod tests;
