//! R1: the calendar. Every business date is a calendar date; "+N months" is calendar-month
//! addition that clamps to the last day of the month (2024-02-29 + 12 months = 2025-02-28).
//! Never 365 days. This is the one place that does date arithmetic for the rules.

use chrono::{Datelike, Days, Months, NaiveDate};

use crate::event::Date;

/// R1: `date` + `months` calendar months, clamped to the end of the month.
pub fn add_months(date: Date, months: u32) -> Date {
    // chrono clamps to the month's last day; it only fails far beyond the ledger's date range.
    date.checked_add_months(Months::new(months))
        .unwrap_or(NaiveDate::MAX)
}

/// R1: `date` − `months` calendar months, clamped to the end of the month.
pub fn sub_months(date: Date, months: u32) -> Date {
    date.checked_sub_months(Months::new(months))
        .unwrap_or(NaiveDate::MIN)
}

/// `date` + `days` (may be negative).
pub fn add_days(date: Date, days: i64) -> Date {
    let result = if days >= 0 {
        date.checked_add_days(Days::new(days.unsigned_abs()))
    } else {
        date.checked_sub_days(Days::new(days.unsigned_abs()))
    };
    result.unwrap_or(if days >= 0 {
        NaiveDate::MAX
    } else {
        NaiveDate::MIN
    })
}

/// The first day of `date`'s month.
pub fn first_of_month(date: Date) -> Date {
    date.with_day(1).unwrap_or(date)
}

/// Whole days from `from` to `to` (negative when `to` is earlier).
pub fn days_between(from: Date, to: Date) -> i64 {
    (to - from).num_days()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        crate::event::parse_date(s).unwrap()
    }

    #[test]
    fn r1_add_months_clamps_to_month_end() {
        assert_eq!(add_months(d("2024-02-29"), 12), d("2025-02-28"));
        assert_eq!(add_months(d("2024-01-31"), 13), d("2025-02-28"));
        assert_eq!(add_months(d("2024-01-31"), 1), d("2024-02-29"));
        assert_eq!(add_months(d("2023-03-01"), 13), d("2024-04-01"));
        assert_eq!(add_months(d("2020-09-01"), 12), d("2021-09-01"));
    }

    #[test]
    fn r1_months_are_not_365_days() {
        // 2023-03-01 + 12 months is 2024-03-01 although 2024 is a leap year (366 days later).
        assert_eq!(add_months(d("2023-03-01"), 12), d("2024-03-01"));
        assert_ne!(
            add_days(d("2023-03-01"), 365),
            add_months(d("2023-03-01"), 12)
        );
    }

    #[test]
    fn r1_worked_dates_of_rules_md() {
        // start, AD, window opens, window closes, activate-by (rules.md "Worked dates").
        let table = [
            (
                "2020-09-01",
                "2021-09-01",
                "2021-09-02",
                "2021-10-01",
                "2021-10-01",
            ),
            (
                "2023-03-01",
                "2024-03-01",
                "2024-03-02",
                "2024-03-31",
                "2024-04-01",
            ),
            (
                "2024-01-31",
                "2025-01-31",
                "2025-02-01",
                "2025-03-02",
                "2025-02-28",
            ),
            (
                "2024-02-29",
                "2025-02-28",
                "2025-03-01",
                "2025-03-30",
                "2025-03-29",
            ),
        ];
        for (start, ad, opens, closes, activate_by) in table {
            let ad_date = add_months(d(start), 12);
            assert_eq!(ad_date, d(ad), "{start}");
            assert_eq!(add_days(ad_date, 1), d(opens), "{start}");
            assert_eq!(add_days(ad_date, 30), d(closes), "{start}");
            assert_eq!(add_months(d(start), 13), d(activate_by), "{start}");
        }
    }

    #[test]
    fn r1_sub_months_and_month_start() {
        assert_eq!(sub_months(d("2024-07-31"), 5), d("2024-02-29"));
        assert_eq!(
            first_of_month(sub_months(d("2024-03-01"), 5)),
            d("2023-10-01")
        );
        assert_eq!(days_between(d("2024-01-31"), d("2024-03-01")), 30);
    }
}
