//! Turns a key path (`providers.okta.timeout`, `route[2].path`) into a line number
//! of the file, so every config error can say where to look.

use toml_edit::{Document, Item, Table, Value};

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A table key.
    Key(String),
    /// An index into an array or array of tables.
    Index(usize),
}

/// A key path with its display form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath(pub Vec<Step>);

// === impl KeyPath ===

impl KeyPath {
    /// The path of a top-level key.
    pub fn root(key: &str) -> Self {
        KeyPath(vec![Step::Key(key.to_owned())])
    }

    /// This path extended by a key.
    pub fn key(&self, key: &str) -> Self {
        let mut v = self.0.clone();
        v.push(Step::Key(key.to_owned()));
        KeyPath(v)
    }

    /// This path extended by an index.
    pub fn index(&self, i: usize) -> Self {
        let mut v = self.0.clone();
        v.push(Step::Index(i));
        KeyPath(v)
    }
}

impl std::fmt::Display for KeyPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Key(k) => {
                    let bare = !k.is_empty()
                        && k.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                    let sep = if i == 0 { "" } else { "." };
                    if bare {
                        write!(f, "{sep}{k}")?;
                    } else {
                        write!(f, "{sep}{k:?}")?;
                    }
                }
                Step::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// The 1-based line of the deepest part of `path` present in the document.
pub fn line_of(doc: &Document<String>, path: &KeyPath) -> Option<usize> {
    let mut offset = None;
    let mut cursor = Cursor::Item(doc.as_item());
    for step in &path.0 {
        let Some((span, next)) = cursor.step(step) else {
            break;
        };
        if let Some(s) = span {
            offset = Some(s.start);
        }
        cursor = next;
    }
    offset.map(|o| line_at(doc.raw(), o))
}

/// Where the walk through the document stands.
#[derive(Clone, Copy)]
enum Cursor<'a> {
    Item(&'a Item),
    Table(&'a Table),
    Value(&'a Value),
}

type Span = Option<std::ops::Range<usize>>;

// === impl Cursor ===

impl<'a> Cursor<'a> {
    fn step(self, step: &Step) -> Option<(Span, Cursor<'a>)> {
        match (step, self) {
            (Step::Key(k), Cursor::Table(t)) | (Step::Key(k), Cursor::Item(Item::Table(t))) => {
                let (key, item) = t.get_key_value(k)?;
                Some((key.span(), Cursor::Item(item)))
            }
            (Step::Key(k), Cursor::Item(Item::Value(Value::InlineTable(t))))
            | (Step::Key(k), Cursor::Value(Value::InlineTable(t))) => {
                let (key, item) = t.get_key_value(k)?;
                Some((key.span(), Cursor::Item(item)))
            }
            (Step::Index(i), Cursor::Item(Item::ArrayOfTables(a))) => {
                let t = a.get(*i)?;
                Some((t.span(), Cursor::Table(t)))
            }
            (Step::Index(i), Cursor::Item(Item::Value(Value::Array(a))))
            | (Step::Index(i), Cursor::Value(Value::Array(a))) => {
                let v = a.get(*i)?;
                Some((v.span(), Cursor::Value(v)))
            }
            _ => None,
        }
    }
}

/// The 1-based line of a byte offset.
pub fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}
