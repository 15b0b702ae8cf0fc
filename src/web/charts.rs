//! Charts drawn on the server as SVG: no script, no network, no inline
//! styles (colours are classes in app.css), a title and description for
//! screen readers, and a `<title>` tooltip on every bar.

use std::fmt::Write as _;

use crate::domain::group_digits;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A coordinate written with one decimal through integer formatting: the
/// same text as `{:.1}` (but for exact ties), at a fraction of the cost of
/// float formatting, which took a tenth of a 90-day dashboard's time.
struct Px(f64);

impl std::fmt::Display for Px {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tenths = (self.0 * 10.0).round() as i64;
        let sign = if tenths < 0 { "-" } else { "" };
        let t = tenths.unsigned_abs();
        write!(f, "{sign}{}.{}", t / 10, t % 10)
    }
}

/// Cents as a short amount for axes and bar ends: `$950`, `$12.3k`, `$1.2M`.
pub fn short_money(cents: i64) -> String {
    let dollars = cents as f64 / 100.0;
    let sign = if dollars < 0.0 { "-" } else { "" };
    let d = dollars.abs();
    if d >= 1_000_000.0 {
        format!("{sign}${:.1}M", d / 1_000_000.0)
    } else if d >= 10_000.0 {
        format!("{sign}${:.0}k", d / 1_000.0)
    } else if d >= 1_000.0 {
        format!("{sign}${:.1}k", d / 1_000.0)
    } else {
        format!("{sign}${}", group_digits(d.round() as u64))
    }
}

/// The smallest "round" number (1, 2 or 5 times a power of ten) at or above `n`.
fn nice_ceiling(n: i64) -> i64 {
    let n = n.max(1);
    let mut step = 1i64;
    loop {
        for m in [1, 2, 5] {
            if step.saturating_mul(m) >= n {
                return step.saturating_mul(m);
            }
        }
        step = step.saturating_mul(10);
    }
}

/// A small line of `values` for a figure card, with `title` read out and
/// shown as its tooltip. Empty (a flat line) when every value is zero.
pub fn sparkline(values: &[i64], title: &str) -> String {
    let (width, height) = (120.0, 32.0);
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = if values.len() > 1 { width / (values.len() - 1) as f64 } else { width };
    let mut points = String::new();
    for (i, v) in values.iter().enumerate() {
        let y = height - 2.0 - (*v).max(0) as f64 / max * (height - 4.0);
        let _ = write!(points, "{},{} ", Px(i as f64 * step), Px(y));
    }
    if values.len() == 1 {
        let y = height - 2.0 - values[0].max(0) as f64 / max * (height - 4.0);
        let _ = write!(points, "{},{}", Px(width), Px(y));
    }
    format!(
        "<svg class=\"spark\" role=\"img\" viewBox=\"0 0 {width} {height}\" preserveAspectRatio=\"none\" \
         aria-label=\"{t}\"><title>{t}</title><polyline class=\"spark-line\" fill=\"none\" \
         vector-effect=\"non-scaling-stroke\" points=\"{}\"/></svg>",
        points.trim_end(),
        t = escape(title)
    )
}

/// One slot of the trend chart: a bucket of the period and the same bucket
/// of the period before.
#[derive(Debug, Clone)]
pub struct TrendPoint {
    /// Axis label ("Mar 3").
    pub label: String,
    /// Tooltip text for the bucket ("Week of Mar 3 – Mar 9, 2026").
    pub describe: String,
    pub value: i64,
    pub previous: i64,
    /// The list of the orders behind it.
    pub href: String,
}

/// Revenue per bucket as bars, with the previous period's same buckets as
/// faint bars behind them (one path), drawn twice: wide for desktops, narrow
/// (larger text) for phones; CSS shows one. Each bar of the wide one links to
/// its orders, so the chart is a labelled group of links rather than one
/// image; the narrow one is drawing only, its figures being in the table.
pub fn trend(points: &[TrendPoint], id: &str, title: &str, description: &str) -> String {
    let mut out = String::new();
    for (variant, width, height, font, labels) in
        [("wide", 960.0, 300.0, 13.0, 12usize), ("narrow", 360.0, 240.0, 12.0, 4)]
    {
        out.push_str(&trend_svg(
            points,
            &format!("{id}-{variant}"),
            variant,
            (width, height, font, labels),
            title,
            description,
        ));
    }
    out
}

fn trend_svg(
    points: &[TrendPoint],
    id: &str,
    variant: &str,
    (width, height, font, labels): (f64, f64, f64, usize),
    title: &str,
    description: &str,
) -> String {
    let (left, right, top, bottom) = (font * 4.6, 8.0, 10.0, font * 2.2);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let max = nice_ceiling(points.iter().map(|p| p.value.max(p.previous)).max().unwrap_or(0).max(100));
    let y = |v: i64| top + plot_h - v.max(0) as f64 / max as f64 * plot_h;
    let n = points.len().max(1);
    let slot = plot_w / n as f64;
    let mut svg = format!(
        "<svg class=\"chart trend trend-{variant}\" role=\"{role}\" aria-labelledby=\"{id}-title {id}-desc\" \
         viewBox=\"0 0 {width} {height}\" font-size=\"{font}\"><title id=\"{id}-title\">{}</title>\
         <desc id=\"{id}-desc\">{}</desc>",
        escape(title),
        escape(description),
        role = if variant == "wide" { "group" } else { "img" },
    );
    for k in 0..=4 {
        let v = max * k / 4;
        let gy = y(v);
        let _ = write!(
            svg,
            "<line class=\"grid\" x1=\"{left}\" x2=\"{}\" y1=\"{gy:.1}\" y2=\"{gy:.1}\"/>\
             <text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            width - right,
            left - 6.0,
            gy + font / 3.0,
            short_money(v)
        );
    }
    let every = n.div_ceil(labels).max(1);
    let gap = (slot * 0.15).min(3.0);
    let base = top + plot_h;
    // The previous period's bars are one path drawn behind: faint context
    // needs no element, link or tooltip of its own (each current bar's
    // tooltip names the previous figure, and the table below has them all).
    let mut previous = String::with_capacity(points.len() * 32);
    for (i, p) in points.iter().enumerate() {
        let py = y(p.previous);
        if py < base {
            let _ = write!(
                previous,
                "M{} {}h{w}V{}h-{w}Z",
                Px(left + i as f64 * slot + gap / 2.0),
                Px(py),
                Px(base),
                w = Px((slot - gap).max(0.5)),
            );
        }
    }
    if !previous.is_empty() {
        let _ = write!(svg, "<path class=\"previous\" d=\"{previous}\"/>");
    }
    let mut labels_svg = String::new();
    for (i, p) in points.iter().enumerate() {
        let x = left + i as f64 * slot;
        let bar = format!(
            "<rect class=\"current\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>",
            Px(x + slot * 0.2),
            Px(y(p.value)),
            Px((slot * 0.6).max(0.5)),
            Px(base - y(p.value)),
        );
        // The wide chart links each bar to its orders, with a tooltip; the
        // narrow one (on phones, where the table below has every figure and
        // tooltips do not show) only draws them.
        if variant == "wide" {
            let _ = write!(
                svg,
                "<a href=\"{}\">{bar}<rect class=\"hit\" x=\"{}\" y=\"{top}\" width=\"{}\" \
                 height=\"{}\"><title>{}: {} (previous period: {})</title></rect></a>",
                escape(&p.href),
                Px(x),
                Px(slot),
                Px(plot_h),
                escape(&p.describe),
                crate::domain::Money::from_cents(p.value),
                crate::domain::Money::from_cents(p.previous),
            );
        } else {
            svg.push_str(&bar);
        }
        if i % every == 0 {
            let _ = write!(
                labels_svg,
                "<text class=\"axis\" x=\"{}\" y=\"{}\">{}</text>",
                Px(x + 1.0),
                Px(height - font * 0.6),
                escape(&p.label)
            );
        }
    }
    svg.push_str(&labels_svg);
    let _ = write!(
        svg,
        "<line class=\"baseline\" x1=\"{left}\" x2=\"{}\" y1=\"{:.1}\" y2=\"{:.1}\"/></svg>",
        width - right,
        top + plot_h,
        top + plot_h
    );
    svg
}

/// One bar of a horizontal bar chart.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub value: i64,
    /// The value as written at the bar's end.
    pub value_text: String,
    /// The bar's tooltip.
    pub title: String,
}

/// Horizontal bars, one row each, label on the left and the value written
/// at the end of the bar: readable at any width, one row per bar drawn
/// (no empty slots).
pub fn bars(rows: &[Bar], id: &str, title: &str, description: &str) -> String {
    let (width, row_h, label_w, value_w) = (360.0, 26.0, 76.0, 64.0);
    let height = rows.len().max(1) as f64 * row_h + 4.0;
    let max = rows.iter().map(|r| r.value).max().unwrap_or(0).max(1) as f64;
    let bar_room = width - label_w - value_w;
    let mut svg = format!(
        "<svg class=\"chart bars\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\" \
         viewBox=\"0 0 {width} {height}\" font-size=\"12\"><title id=\"{id}-title\">{}</title>\
         <desc id=\"{id}-desc\">{}</desc>",
        escape(title),
        escape(description)
    );
    for (i, r) in rows.iter().enumerate() {
        let y = 2.0 + i as f64 * row_h;
        let w = (r.value.max(0) as f64 / max * bar_room).max(if r.value > 0 { 2.0 } else { 0.0 });
        let _ = write!(
            svg,
            "<g><title>{}</title><text class=\"axis\" x=\"0\" y=\"{:.1}\">{}</text>\
             <rect class=\"current\" x=\"{label_w}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\"/>\
             <text class=\"value\" x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
            escape(&r.title),
            y + row_h * 0.62,
            escape(&r.label),
            y + 4.0,
            row_h - 8.0,
            label_w + w + 4.0,
            y + row_h * 0.62,
            escape(&r.value_text)
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_read_as_with_one_decimal() {
        for v in [0.0, 0.04, 0.06, 1.25, 12.345, 299.99, 960.0, 3.0 / 7.0, -2.36] {
            assert_eq!(Px(v).to_string(), format!("{:.1}", (v * 10.0_f64).round() / 10.0), "{v}");
        }
        assert_eq!(Px(12.34).to_string(), "12.3");
        assert_eq!(Px(-2.36).to_string(), "-2.4");
    }

    #[test]
    fn amounts_are_short_on_axes() {
        assert_eq!(short_money(95_000), "$950");
        assert_eq!(short_money(1_234_500), "$12k");
        assert_eq!(short_money(123_400), "$1.2k");
        assert_eq!(short_money(250_000_000), "$2.5M");
        assert_eq!(nice_ceiling(3_400), 5_000);
        assert_eq!(nice_ceiling(0), 1);
    }

    #[test]
    fn charts_are_labelled_svg_without_inline_styles() {
        let points: Vec<TrendPoint> = (0..3)
            .map(|i| TrendPoint {
                label: format!("Mar {i}"),
                describe: format!("March {i}"),
                value: i * 10_000,
                previous: 5_000,
                href: format!("/orders?from=2026-03-0{i}&to=2026-03-0{i}"),
            })
            .collect();
        let svg = trend(&points, "t", "Revenue", "Revenue per day & more");
        assert_eq!(svg.matches("<svg").count(), 2, "{svg}");
        assert!(svg.contains("<title id=\"t-wide-title\">Revenue</title>"));
        assert!(svg.contains("Revenue per day &amp; more"));
        assert!(svg.contains("<title>March 2: $200.00 (previous period: $50.00)</title>"), "{svg}");
        assert!(svg.contains("href=\"/orders?from=2026-03-02&amp;to=2026-03-02\""), "{svg}");
        // The previous period is one path per chart, and each bar's tooltip
        // and link are drawn once (in the wide chart) rather than twice.
        assert_eq!(svg.matches("<path class=\"previous\"").count(), 2, "{svg}");
        assert_eq!(svg.matches("<rect class=\"current\"").count(), 2 * 3, "{svg}");
        assert_eq!(svg.matches("(previous period: ").count(), 3, "{svg}");
        assert_eq!(svg.matches("<a href=").count(), 3, "{svg}");
        let bars = bars(
            &[Bar { label: "Mar 2026".into(), value: 5, value_text: "$5".into(), title: "March: $5".into() }],
            "b",
            "Revenue by month",
            "One month",
        );
        let spark = sparkline(&[1, 3, 2], "Orders per day");
        for svg in [&svg, &bars, &spark] {
            // Inline style attributes would be blocked by the Content-Security-Policy.
            assert!(!svg.contains("style="), "{svg}");
        }
        assert!(bars.contains(">$5</text>"));
        assert!(spark.contains("<title>Orders per day</title>"));
    }
}
