//! Collisions, adoption and orphaning, overlapping selectors (reference §1.6, §3.3, §6 scenarios 19–21).
