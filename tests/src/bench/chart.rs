//! SVG line charts of a run (plotters, SVG backend only): progress over time per workload,
//! both contenders on one plot, and memory against cluster size for the scale curve.

use std::path::Path;

use plotters::prelude::*;

use super::report::{Measurement, Role};

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    pub color: RGBColor,
    pub points: Vec<(f64, f64)>,
}

/// Upstream red, kcm-rs blue, the floor black; the `limits off` variants lighter.
pub fn color(role: Role, variant: &str) -> RGBColor {
    let off = !variant.is_empty();
    match (role, off) {
        (Role::Upstream, false) => RGBColor(214, 39, 40),
        (Role::Upstream, true) => RGBColor(255, 127, 14),
        (Role::KcmRs, false) => RGBColor(31, 119, 180),
        (Role::KcmRs, true) => RGBColor(23, 190, 207),
        (Role::Floor, _) => RGBColor(40, 40, 40),
    }
}

/// The progress curve of each measurement: `progress` against seconds.
pub fn progress_series(measurements: &[&Measurement]) -> Vec<Series> {
    measurements
        .iter()
        .map(|m| Series {
            label: m.series(),
            color: color(m.role, &m.variant),
            points: m.samples.iter().map(|s| (s.t, s.progress)).collect(),
        })
        .collect()
}

/// Draws `series` into an SVG file at `path`.
pub fn line_chart(
    path: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
) -> anyhow::Result<()> {
    let points = || series.iter().flat_map(|s| s.points.iter().copied());
    let x_max = points().map(|p| p.0).fold(0.0_f64, f64::max).max(1e-3) * 1.05;
    let y_max = points().map(|p| p.1).fold(0.0_f64, f64::max).max(1e-3) * 1.08;
    let root = SVGBackend::new(path, (900, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    for s in series {
        let style = s.color.stroke_width(2);
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), style))?
            .label(s.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        if s.points.len() <= 12 {
            let fill = s.color.filled();
            chart.draw_series(s.points.iter().map(|&p| Circle::new(p, 4, fill)))?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests;
