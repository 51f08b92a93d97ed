//! Docker-style tables: a header and rows in left-aligned columns three spaces apart, the last
//! column unpadded so lines carry no trailing blanks.

/// Renders `header` and `rows` (each row as many cells as the header) as aligned columns.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut out = String::new();
        for (cell, w) in cells.zip(&widths) {
            // `{:<w$}` pads by chars, which matches the widths counted above.
            out.push_str(&format!("{cell:<w$}   ", w = *w));
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut out = line(&mut header.iter().copied());
    for row in rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    out
}
