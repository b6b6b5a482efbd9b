use super::*;

#[test]
fn table_has_a_ratio_row_per_variant() {
    let mut up = Measurement::new("w", "", "upstream", Role::Upstream);
    up.wall_s = 10.0;
    up.cpu_s = Some(4.0);
    let mut rs = Measurement::new("w", "", "kcm-rs", Role::KcmRs);
    rs.wall_s = 5.0;
    let floor = Measurement::new("w", "limits off", "floor", Role::Floor);
    let table = markdown_table(&[&up, &rs, &floor], &standard_columns(), false);
    assert!(
        table.contains("| *kcm-rs / upstream* | **0.50** | – |"),
        "{table}"
    );
    assert!(table.contains("| floor (limits off) | 0.0 |"), "{table}");
    assert_eq!(table.matches("kcm-rs / upstream").count(), 1);
}
