//! The console's HTML: escaping, the page frame, small tables and the SVG
//! charts. Everything is rendered here, on the server: every page reads
//! without JavaScript, and no inline script or style is ever written (the
//! Content-Security-Policy forbids both).

use std::fmt::Write;
use std::time::SystemTime;

use crate::telemetry::recent::{Minute, OUTCOMES};

/// Text made safe for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A time as RFC 3339 (UTC, seconds).
pub fn when(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// The pages, in the navigation's order: (path, title).
pub const PAGES: [(&str, &str); 5] = [
    ("/", "Overview"),
    ("/decisions", "Decisions"),
    ("/test-token", "Test a token"),
    ("/test-provider", "Test a provider"),
    ("/evict", "Evict"),
];

/// A whole page: the frame, the navigation with `active` marked, and `main`.
pub fn page(active: &str, main: &str) -> String {
    let title = PAGES
        .iter()
        .find(|(p, _)| *p == active)
        .map_or("restgate", |(_, t)| t);
    let mut nav = String::new();
    for (path, name) in PAGES {
        let current = if path == active {
            " aria-current=\"page\""
        } else {
            ""
        };
        let _ = write!(nav, "<a href=\"{path}\"{current}>{name}</a>");
    }
    format!(
        "<!doctype html>
<html lang=\"en\">
<head>
<meta charset=\"utf-8\">
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">
<meta name=\"referrer\" content=\"same-origin\">
<title>{title} · restgate</title>
<link rel=\"icon\" href=\"data:,\">
<link rel=\"stylesheet\" href=\"/assets/console.css\">
<script src=\"/assets/console.js\" defer></script>
</head>
<body data-page=\"{active}\">
<header><span class=\"brand\">restgate</span><nav>{nav}</nav></header>
<main id=\"main\">
{main}
</main>
</body>
</html>
"
    )
}

/// A `<table>` from a header row and rows of already escaped cells.
pub fn table(id: &str, head: &[&str], rows: &[String]) -> String {
    let mut s = format!("<table id=\"{id}\"><thead><tr>");
    for h in head {
        let _ = write!(s, "<th>{h}</th>");
    }
    s.push_str("</tr></thead><tbody>");
    for r in rows {
        s.push_str(r);
    }
    s.push_str("</tbody></table>");
    s
}

const CHART_W: f64 = 600.0;
const CHART_H: f64 = 120.0;

/// Requests per minute over the last hour, stacked by outcome.
pub fn requests_chart(history: &[Minute]) -> String {
    let peak = history
        .iter()
        .map(|m| m.requests.iter().sum::<u32>())
        .max()
        .unwrap_or(0)
        .max(1);
    let bar = CHART_W / history.len().max(1) as f64;
    let mut s = format!(
        "<svg class=\"chart\" id=\"chart-requests\" viewBox=\"0 0 {CHART_W} {}\" role=\"img\" \
         aria-label=\"Requests per minute by outcome, last hour (peak {peak})\">",
        CHART_H + 14.0
    );
    for (i, m) in history.iter().enumerate() {
        let mut y = CHART_H;
        for (k, n) in m.requests.iter().enumerate() {
            if *n == 0 {
                continue;
            }
            let h = f64::from(*n) / f64::from(peak) * CHART_H;
            y -= h;
            let _ = write!(
                s,
                "<rect class=\"o-{}\" x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h:.1}\"><title>{} {}</title></rect>",
                OUTCOMES[k],
                i as f64 * bar,
                (bar - 1.0).max(1.0),
                n,
                OUTCOMES[k]
            );
        }
    }
    let _ = write!(
        s,
        "<text x=\"0\" y=\"{}\" class=\"axis\">60 min ago</text><text x=\"{CHART_W}\" y=\"{}\" class=\"axis end\">now · peak {peak}/min</text></svg>",
        CHART_H + 12.0,
        CHART_H + 12.0
    );
    let mut legend = String::from("<p class=\"legend\">");
    for o in OUTCOMES {
        let _ = write!(legend, "<span class=\"key o-{o}\"></span>{o} ");
    }
    legend.push_str("</p>");
    s + &legend
}

/// Mean provider call time per minute over the last hour, one line per
/// provider.
pub fn latency_chart(history: &[Minute]) -> String {
    let mut names: Vec<&str> = history
        .iter()
        .flat_map(|m| m.providers.iter().map(|p| p.provider.as_str()))
        .collect();
    names.sort_unstable();
    names.dedup();
    if names.is_empty() {
        return "<p class=\"muted\" id=\"chart-latency\">No provider calls in the last hour \
                (cached answers need none).</p>"
            .to_owned();
    }
    let mean = |m: &Minute, name: &str| {
        m.providers
            .iter()
            .find(|p| p.provider == name && p.calls > 0)
            .map(|p| p.total.as_secs_f64() * 1000.0 / f64::from(p.calls))
    };
    let peak = history
        .iter()
        .flat_map(|m| names.iter().filter_map(|n| mean(m, n)))
        .fold(1.0_f64, f64::max);
    let step = CHART_W / (history.len().max(2) - 1) as f64;
    let mut s = format!(
        "<svg class=\"chart\" id=\"chart-latency\" viewBox=\"0 0 {CHART_W} {}\" role=\"img\" \
         aria-label=\"Mean provider call time per minute, last hour (peak {peak:.0} ms)\">",
        CHART_H + 14.0
    );
    for (k, name) in names.iter().enumerate() {
        let mut points = String::new();
        let mut dots = String::new();
        for (i, m) in history.iter().enumerate() {
            if let Some(ms) = mean(m, name) {
                let (x, y) = (i as f64 * step, CHART_H - ms / peak * CHART_H);
                let _ = write!(points, "{x:.1},{y:.1} ");
                // A dot per minute: a provider called in one minute only
                // still shows.
                let _ = write!(
                    dots,
                    "<circle class=\"dot l{}\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"1.5\"></circle>",
                    k % 6
                );
            }
        }
        let _ = write!(
            s,
            "<polyline class=\"line l{}\" points=\"{}\"><title>{}</title></polyline>{dots}",
            k % 6,
            points.trim_end(),
            esc(name)
        );
    }
    let _ = write!(
        s,
        "<text x=\"0\" y=\"{}\" class=\"axis\">60 min ago</text><text x=\"{CHART_W}\" y=\"{}\" class=\"axis end\">now · peak {peak:.0} ms</text></svg>",
        CHART_H + 12.0,
        CHART_H + 12.0
    );
    let mut legend = String::from("<p class=\"legend\">");
    for (k, name) in names.iter().enumerate() {
        let _ = write!(
            legend,
            "<span class=\"key l{}\"></span>{} ",
            k % 6,
            esc(name)
        );
    }
    legend.push_str("</p>");
    s + &legend
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_that_could_open_markup() {
        assert_eq!(
            esc("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }
}
