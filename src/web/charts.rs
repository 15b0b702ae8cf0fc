//! Charts drawn on the server as SVG with plotters: no script, no network,
//! and a title and description for screen readers.

use plotters::prelude::*;

use crate::db::reports::Month;
use crate::domain::Money;

const GREEN: RGBColor = RGBColor(11, 110, 79);
const GRID: RGBColor = RGBColor(223, 230, 227);
const INK: RGBColor = RGBColor(45, 55, 62);

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Revenue per month as a bar chart. `id` keys the accessible title and description.
pub fn revenue_by_month(months: &[Month], id: &str) -> String {
    let width = 960u32;
    let height = 320u32;
    let mut svg = String::new();
    let max = months.iter().map(|m| m.revenue_cents.cents()).max().unwrap_or(0).max(100);
    let labels: Vec<String> = months.iter().map(|m| m.month.format("%b %Y").to_string()).collect();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
            root.fill(&WHITE)?;
            let mut chart = ChartBuilder::on(&root)
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(84)
                .build_cartesian_2d((0..months.len().max(1)).into_segmented(), 0i64..(max + max / 10))?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .light_line_style(WHITE)
                .bold_line_style(GRID)
                .y_labels(6)
                .axis_style(INK)
                .label_style(("sans-serif", 13).into_font().color(&INK))
                .x_labels(months.len().clamp(1, 12))
                .x_label_formatter(&|x| match x {
                    SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
                    _ => String::new(),
                })
                .y_label_formatter(&|cents| Money::from_cents(*cents).to_string().trim_end_matches(".00").to_string())
                .draw()?;
            chart.draw_series(months.iter().enumerate().map(|(i, m)| {
                let mut bar = Rectangle::new(
                    [(SegmentValue::Exact(i), 0), (SegmentValue::Exact(i + 1), m.revenue_cents.cents())],
                    GREEN.filled(),
                );
                bar.set_margin(0, 0, 3, 3);
                bar
            }))?;
            root.present()?;
            Ok(())
        })();
        if let Err(e) = drawn {
            tracing::error!(error = %e, "could not draw the revenue chart");
        }
    }
    let total = Money::from_cents(months.iter().map(|m| m.revenue_cents.cents()).sum());
    let best = months.iter().max_by_key(|m| m.revenue_cents);
    let description = match (months.first(), months.last(), best) {
        (Some(first), Some(last), Some(best)) => format!(
            "Bar chart of revenue for each month from {} to {}: {} in total; the best month was {} with {}.",
            first.month.format("%B %Y"),
            last.month.format("%B %Y"),
            total,
            best.month.format("%B %Y"),
            best.revenue_cents
        ),
        _ => "No revenue recorded yet.".to_string(),
    };
    let accessible = format!(
        "<svg role=\"img\" aria-labelledby=\"{id}-title {id}-desc\" class=\"chart\" viewBox=\"0 0 {width} {height}\" \
         preserveAspectRatio=\"xMidYMid meet\"><title id=\"{id}-title\">Revenue by month</title><desc id=\"{id}-desc\">{}</desc>",
        escape(&description)
    );
    match svg.find("<svg") {
        Some(start) => match svg[start..].find('>') {
            Some(end) => format!("{accessible}{}", &svg[start + end + 1..]),
            None => svg,
        },
        None => svg,
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    #[test]
    fn the_revenue_chart_is_labelled_accessible_svg() {
        let months: Vec<Month> = (1..=3)
            .map(|m| Month {
                month: NaiveDate::from_ymd_opt(2026, m, 1).unwrap_or_default(),
                order_count: 2,
                revenue_cents: Money::from_cents(i64::from(m) * 10_000),
            })
            .collect();
        let svg = revenue_by_month(&months, "c");
        assert!(svg.starts_with("<svg role=\"img\" aria-labelledby=\"c-title c-desc\""), "{svg}");
        assert!(svg.contains("<title id=\"c-title\">Revenue by month</title>"));
        assert!(svg.contains("the best month was March 2026 with $300.00"), "{svg}");
        assert!(svg.contains("Mar 2026"), "month labels: {svg}");
        assert!(svg.contains("<rect"), "bars: {svg}");
        assert_eq!(svg.matches("<svg").count(), 1);
        // Inline style attributes would be blocked by the Content-Security-Policy.
        assert!(!svg.contains("style="), "{svg}");
    }
}
