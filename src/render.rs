//! Human-readable output: aligned tables, dates, clear words. Machine output is `--json`.

use std::io::{self, Write};

use crate::domain::view::StateView;

/// A simple aligned table: a header row and rows of cells.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = Vec::new();
    // Writing into memory does not fail, and every piece written is a `&str`.
    let _ = write_table(header, rows, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Writes an aligned table to `out` as it goes, from borrowed cells.
pub fn write_table<R, C>(header: &[&str], rows: &[R], out: &mut dyn Write) -> io::Result<()>
where
    R: AsRef<[C]>,
    C: AsRef<str>,
{
    write_table_with(header, rows, |r| r.as_ref().iter().map(AsRef::as_ref), out)
}

/// A cell of a table: measured in characters, written into the line being laid out.
pub trait TableCell {
    fn width(&self) -> usize;
    fn write_to(&self, line: &mut String);
}

impl TableCell for &str {
    fn width(&self) -> usize {
        self.chars().count()
    }

    fn write_to(&self, line: &mut String) {
        line.push_str(self);
    }
}

/// The one table layout: two spaces before the first column and between columns, each cell
/// padded to its column's width in characters, no spaces at a line's end. `cells` gives a
/// row's cells (it is asked twice per row: to measure, then to write), so no text is built for
/// a cell and only one line is held at a time.
pub fn write_table_with<'a, T, I>(
    header: &[&str],
    rows: &'a [T],
    cells: impl Fn(&'a T) -> I,
    out: &mut dyn Write,
) -> io::Result<()>
where
    I: IntoIterator,
    I::Item: TableCell,
{
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(cells(row)) {
            *w = (*w).max(cell.width());
        }
    }
    let mut line = String::new();
    write_line(header.iter().copied(), &widths, &mut line, out)?;
    for row in rows {
        write_line(cells(row), &widths, &mut line, out)?;
    }
    Ok(())
}

fn write_line<C: TableCell>(
    cells: impl IntoIterator<Item = C>,
    widths: &[usize],
    line: &mut String,
    out: &mut dyn Write,
) -> io::Result<()> {
    line.clear();
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            line.push_str("  ");
        }
        cell.write_to(line);
        let width = widths.get(i).copied().unwrap_or(0);
        line.extend(std::iter::repeat_n(' ', width.saturating_sub(cell.width())));
    }
    out.write_all(b"  ")?;
    out.write_all(line.trim_end().as_bytes())?;
    out.write_all(b"\n")
}

fn or_dash<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "-".to_string(), |x| x.to_string())
}

/// The state of an account, for people.
pub fn state(v: &StateView) -> String {
    let mut out = String::new();
    let known = v
        .known_at
        .as_ref()
        .map(|k| format!(", as known at {k}"))
        .unwrap_or_default();
    out.push_str(&format!("{} on {}{known}\n", v.account, v.as_of));
    if let (Some(into), Some(on)) = (&v.merged_into, &v.merged_on) {
        out.push_str(&format!("merged into {into} on {on}\n"));
    }
    for a in &v.absorbed {
        out.push_str(&format!("absorbed {} on {}\n", a.account, a.date));
    }
    out.push_str(&format!(
        "business profile last verified: {}\n",
        or_dash(&v.profile_verified)
    ));
    let section = |out: &mut String, title: &str, body: String| {
        out.push('\n');
        out.push_str(title);
        out.push('\n');
        out.push_str(&body);
    };
    if v.memberships.is_empty() {
        out.push_str("\nno membership\n");
    } else {
        let rows = v
            .memberships
            .iter()
            .map(|m| {
                vec![
                    m.line.to_string(),
                    m.offer.to_string(),
                    m.status.to_string(),
                    m.start.to_string(),
                    m.anniversary.to_string(),
                    format!("{} .. {}", m.renewal_window.opens, m.renewal_window.closes),
                    m.activate_by.to_string(),
                    m.source.to_string(),
                ]
            })
            .collect::<Vec<_>>();
        section(
            &mut out,
            "Memberships",
            table(
                &[
                    "line",
                    "offer",
                    "status",
                    "start",
                    "anniversary",
                    "renewal window",
                    "activate by",
                    "source",
                ],
                &rows,
            ),
        );
    }
    if !v.designations.is_empty() {
        let rows = v
            .designations
            .iter()
            .map(|d| {
                vec![
                    d.solution_area.to_string(),
                    d.qualified.to_string(),
                    d.score.to_string(),
                    d.source.to_string(),
                ]
            })
            .collect::<Vec<_>>();
        section(
            &mut out,
            "Designations",
            table(&["solution area", "qualified", "score", "source"], &rows),
        );
    }
    if !v.benefits.is_empty() {
        let rows = v
            .benefits
            .iter()
            .map(|b| {
                vec![
                    b.benefit_type.to_string(),
                    b.offer.to_string(),
                    b.term_start.to_string(),
                    b.status.to_string(),
                    b.activate_by.to_string(),
                    or_dash(&b.unlocked),
                    or_dash(&b.expires),
                    b.source.to_string(),
                ]
            })
            .collect::<Vec<_>>();
        section(
            &mut out,
            "Benefits",
            table(
                &[
                    "benefit",
                    "offer",
                    "term start",
                    "status",
                    "activate by",
                    "unlocked",
                    "expires",
                    "source",
                ],
                &rows,
            ),
        );
    }
    if !v.tokens.is_empty() {
        let rows = v
            .tokens
            .iter()
            .map(|t| {
                let note = match (&t.replaces, &t.replaced_by) {
                    (Some(r), _) => format!("replaces {r}"),
                    (_, Some(r)) => format!("replaced by {r}"),
                    _ => t
                        .replacement_deadline
                        .as_ref()
                        .map(|d| format!("replaceable until {d}"))
                        .unwrap_or_default(),
                };
                vec![
                    t.token.to_string(),
                    t.product.to_string(),
                    t.seats.to_string(),
                    t.status.to_string(),
                    or_dash(&t.tenant),
                    or_dash(&t.activated),
                    or_dash(&t.expires),
                    note,
                ]
            })
            .collect::<Vec<_>>();
        section(
            &mut out,
            "Tokens",
            table(
                &[
                    "token",
                    "product",
                    "seats",
                    "status",
                    "tenant",
                    "activated",
                    "expires",
                    "",
                ],
                &rows,
            ),
        );
    }
    if !v.product_keys.is_empty() {
        let rows = v
            .product_keys
            .iter()
            .map(|k| {
                vec![
                    k.key.to_string(),
                    k.product.to_string(),
                    k.kind.to_string(),
                    format!("{}/{}", k.activations_used, k.activations_total),
                    k.status.to_string(),
                    k.source.to_string(),
                ]
            })
            .collect::<Vec<_>>();
        section(
            &mut out,
            "Product keys",
            table(
                &["key", "product", "kind", "used", "status", "source"],
                &rows,
            ),
        );
    }
    if !v.vs_subscriptions.is_empty() {
        let rows = v
            .vs_subscriptions
            .iter()
            .map(|s| {
                vec![
                    s.subscription.to_string(),
                    s.level.to_string(),
                    s.user.to_string(),
                    s.status.to_string(),
                    s.assigned.to_string(),
                    or_dash(&s.activated),
                    or_dash(&s.expires),
                ]
            })
            .collect::<Vec<_>>();
        section(
            &mut out,
            "Visual Studio subscriptions",
            table(
                &[
                    "subscription",
                    "level",
                    "user",
                    "status",
                    "assigned",
                    "activated",
                    "expires",
                ],
                &rows,
            ),
        );
    }
    if !v.obligations.is_empty() {
        let rows = v
            .obligations
            .iter()
            .map(|o| vec![o.kind.to_string(), o.since.to_string(), o.offer.to_string()])
            .collect::<Vec<_>>();
        section(
            &mut out,
            "Obligations",
            table(&["obligation", "since", "offer"], &rows),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_pads_by_characters_and_ends_no_line_with_spaces() {
        let rows = vec![
            vec!["contoso".to_string(), "ä".to_string(), "1".to_string()],
            vec!["a".to_string(), "wide ö cell".to_string(), String::new()],
            vec![String::new(), String::new(), String::new()],
            vec!["short".to_string()],
        ];
        let expected = "  name     what         n\n\
                        \x20 contoso  ä            1\n\
                        \x20 a        wide ö cell\n\
                        \x20 \n\
                        \x20 short\n";
        assert_eq!(table(&["name", "what", "n"], &rows), expected);
        let borrowed: Vec<[&str; 3]> = vec![["contoso", "ä", "1"]];
        let mut out = Vec::new();
        write_table(&["name", "what", "n"], &borrowed, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "  name     what  n\n  contoso  ä     1\n"
        );
    }
}
