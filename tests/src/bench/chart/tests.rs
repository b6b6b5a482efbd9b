use super::*;

#[test]
fn writes_an_svg_with_every_label() {
    let dir = std::env::temp_dir().join(format!("kcm-bench-chart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("c.svg");
    let series = vec![
        Series {
            label: "upstream".into(),
            color: color(Role::Upstream, ""),
            points: vec![(0.0, 0.0), (2.0, 5.0)],
        },
        Series {
            label: "kcm-rs".into(),
            color: color(Role::KcmRs, ""),
            points: vec![(0.0, 0.0), (1.0, 5.0)],
        },
    ];
    line_chart(&path, "t", "seconds", "done", &series).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("upstream") && svg.contains("kcm-rs"));
    std::fs::remove_dir_all(&dir).unwrap();
}
