//! Statistics.

/// The level-1 agency of a unit code: `NNN.NN.NN.XNN` gives `000.00.00.XNN` (codes.md §1.1);
/// any other form is its own agency.
pub fn agency_of(unit_code: &str) -> String {
    let c = unit_code.trim();
    let b = c.as_bytes();
    let strict = b.len() == 13
        && b.iter().enumerate().all(|(i, ch)| match i {
            3 | 6 | 9 => *ch == b'.',
            10 => ch.is_ascii_uppercase(),
            _ => ch.is_ascii_digit(),
        });
    if strict {
        format!("000.00.00.{}", &c[10..])
    } else {
        c.to_owned()
    }
}
