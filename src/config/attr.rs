//! Attribute paths of `username_attribute` / `email_attribute`: a JSON
//! pointer, or a dotted path with indexes turned into one.

use super::provider::Attr;

/// Parses `username_attribute` spellings: a JSON pointer (`/user/login`) or a
/// dotted path with optional indexes (`user.login`, `emails[0]`).
pub fn parse_attr(text: &str) -> Result<Attr, String> {
    if text.starts_with('/') {
        let bad_escape = text
            .split('~')
            .skip(1)
            .any(|s| !(s.starts_with('0') || s.starts_with('1')));
        if bad_escape {
            return Err("`~` in a JSON pointer must be `~0` or `~1`".into());
        }
        return Ok(Attr {
            written: text.to_owned(),
            pointer: text.to_owned(),
        });
    }
    let mut pointer = String::new();
    for part in text.split('.') {
        let (name, indexes) = part
            .split_once('[')
            .map_or((part, ""), |(n, rest)| (n, rest));
        if name.is_empty() {
            return Err("empty name in dotted path (use a JSON pointer for odd keys)".into());
        }
        pointer.push('/');
        pointer.push_str(&name.replace('~', "~0").replace('/', "~1"));
        if !indexes.is_empty() {
            for idx in format!("[{indexes}").split('[').skip(1) {
                let n = idx.strip_suffix(']').filter(|n| n.parse::<usize>().is_ok());
                let n = n.ok_or_else(|| format!("bad index in {part:?}; write e.g. emails[0]"))?;
                pointer.push('/');
                pointer.push_str(n);
            }
        }
    }
    Ok(Attr {
        written: text.to_owned(),
        pointer,
    })
}
