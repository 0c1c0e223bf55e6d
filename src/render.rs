//! Human-readable output: aligned tables, dates, clear words. Machine output is `--json`.

use crate::domain::view::StateView;

/// A simple aligned table: a header row and rows of cells.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<String>, out: &mut String| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = widths.get(i).copied().unwrap_or(0)))
            .collect();
        out.push_str("  ");
        out.push_str(padded.join("  ").trim_end());
        out.push('\n');
    };
    line(header.iter().map(|h| h.to_string()).collect(), &mut out);
    for row in rows {
        line(row.clone(), &mut out);
    }
    out
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
