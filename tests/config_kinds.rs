//! The README's provider tables say what the kind table decides: the preset
//! kinds, what each must be given, and the keys every kind takes.

use restgate::config::Config;

const README: &str = include_str!("../README.md");

/// The first markdown table after `heading`: its header cells, then its rows.
fn table_after(heading: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let start = README
        .lines()
        .position(|l| l.trim() == heading)
        .unwrap_or_else(|| panic!("README has no {heading:?} heading"));
    let mut lines = README
        .lines()
        .skip(start + 1)
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'));
    let cells = |line: &str| -> Vec<String> {
        let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
        inner.split('|').map(|c| c.trim().to_owned()).collect()
    };
    let header = cells(lines.next().expect("a header row"));
    let rows = lines.skip(1).map(cells).collect(); // skip the `| --- |` row
    (header, rows)
}

fn column(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no {name:?} column in {header:?}"))
}

/// What a cell names in backticks.
fn ticked(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

#[test]
fn the_readme_preset_table_lists_exactly_the_preset_kinds() {
    let (header, rows) = table_after("### Presets");
    let kind = column(&header, "kind");
    let in_readme: Vec<&str> = rows.iter().map(|r| r[kind].trim_matches('`')).collect();
    let presets: Vec<&str> = Config::provider_kinds()
        .into_iter()
        .filter(|k| k.preset)
        .map(|k| k.name)
        .collect();
    assert_eq!(in_readme, presets, "README ### Presets, `kind` column");
}

#[test]
fn the_readme_preset_table_gives_every_required_key() {
    let (header, rows) = table_after("### Presets");
    let (kind, give) = (column(&header, "kind"), column(&header, "give"));
    let mut missing = Vec::new();
    for k in Config::provider_kinds().into_iter().filter(|k| k.preset) {
        let Some(row) = rows.iter().find(|r| r[kind].trim_matches('`') == k.name) else {
            continue; // the kind column test names it
        };
        let named = ticked(&row[give]);
        for need in &k.required {
            if !need.iter().any(|key| named.contains(key)) {
                missing.push(format!("{}: {}", k.name, need.join(" or ")));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "README ### Presets, `give` column lacks (in backticks): {missing:#?}"
    );
}

#[test]
fn the_readme_lists_the_keys_every_kind_takes() {
    let (header, rows) = table_after("### `[providers.NAME]`");
    let key = column(&header, "key");
    let mut in_readme: Vec<&str> = rows
        .iter()
        .flat_map(|r| ticked(&r[key]))
        .map(|k| {
            k.strip_prefix("[providers.NAME.")
                .and_then(|t| t.strip_suffix(']'))
                .unwrap_or(k)
        })
        .collect();
    in_readme.sort_unstable();
    let kinds = Config::provider_kinds();
    let mut shared: Vec<&str> = kinds[0]
        .keys
        .iter()
        .copied()
        .filter(|key| kinds.iter().all(|k| k.keys.contains(key)))
        .collect();
    shared.sort_unstable();
    assert_eq!(
        in_readme, shared,
        "README ### `[providers.NAME]`, the keys every kind shares"
    );
}
