//! A Prometheus rule file's alerting rules, read line by line: the crate has
//! no YAML parser, and the rule files it checks keep to a plain layout.

/// One alerting rule as the line reader sees it.
#[derive(Debug, Default)]
pub struct Rule {
    pub name: String,
    pub expr: String,
    pub for_: Option<String>,
    pub severity: Option<String>,
    pub summary: bool,
    pub description: bool,
}

/// The alerting rules of a rule file, read line by line (the file keeps to
/// `- alert:`, `expr:` on one line or as a `|` block, `for:`, `labels:` and
/// `annotations:`), and how many `expr:` lines the file holds in all.
pub fn rules(text: &str) -> (Vec<Rule>, usize) {
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let value = |l: &str, key: &str| {
        let v = l.trim_start()[key.len()..].trim();
        v.trim_matches('"').to_owned()
    };
    let mut out: Vec<Rule> = Vec::new();
    let mut exprs = 0;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let t = line.trim_start();
        if t.starts_with("- alert:") {
            out.push(Rule {
                name: value(line, "- alert:"),
                ..Rule::default()
            });
        } else if t.starts_with("- name:") || t.starts_with("- record:") {
            // A group or a recording rule: what follows belongs to no alert.
            out.push(Rule::default());
        }
        let current = out.last_mut();
        if t.starts_with("expr:") {
            exprs += 1;
            let v = value(line, "expr:");
            let expr = if ["|", "|-", ">", ">-"].contains(&v.as_str()) {
                let mut block = Vec::new();
                while i + 1 < lines.len()
                    && (lines[i + 1].trim().is_empty() || indent(lines[i + 1]) > indent(line))
                {
                    i += 1;
                    block.push(lines[i].trim());
                }
                block.join("\n")
            } else {
                v
            };
            if let Some(r) = current {
                r.expr = expr;
            }
        } else if let Some(r) = current {
            if t.starts_with("for:") {
                r.for_ = Some(value(line, "for:"));
            } else if t.starts_with("severity:") {
                r.severity = Some(value(line, "severity:"));
            } else if t.starts_with("summary:") {
                r.summary = true;
            } else if t.starts_with("description:") {
                r.description = true;
            }
        }
        i += 1;
    }
    out.retain(|r| !r.name.is_empty());
    (out, exprs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_reader_sees_block_and_line_expressions() {
        let text = "groups:\n  - name: g\n    rules:\n      - alert: One\n        expr: |\n          sum(\n            restgate_a_total)\n          > 1\n        for: 5m\n        labels:\n          severity: warning\n        annotations:\n          summary: \"s\"\n          description: \"d\"\n      - alert: Two\n        expr: up == 0\n        for: 1m\n";
        let (rules, exprs) = rules(text);
        assert_eq!(exprs, 2);
        assert_eq!(rules[0].name, "One");
        assert_eq!(rules[0].expr, "sum(\nrestgate_a_total)\n> 1");
        assert_eq!(rules[0].severity.as_deref(), Some("warning"));
        assert!(rules[0].summary && rules[0].description);
        assert_eq!(
            (rules[1].expr.as_str(), rules[1].for_.as_deref()),
            ("up == 0", Some("1m"))
        );
        assert!(rules[1].severity.is_none() && !rules[1].summary);
    }
}
