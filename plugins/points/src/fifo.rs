//! First in, first out: which lots of points a customer's balance is made of, which of them
//! have expired, and which a redemption uses.
//!
//! The ledger keeps the postings; this module replays them, oldest first:
//! - a **positive** posting is a lot that expires on its `expires` day (never without one);
//!   it first pays off a debt (a balance below zero left by a reversal), the rest is the lot;
//! - a **negative posting with `expires`** takes from the lots of that day first (a void or
//!   return of points earned on that day, or their expiry), then as below;
//! - a **negative posting without `expires`** (a redemption) takes from the lot that expires
//!   first, then the next; lots that never expire last;
//! - what no lot covers is a **debt**, paid off by the next lots.
//!
//! A lot whose `expires` day is before today, with points left, has expired: the plugin
//! posts its rest away with that same `expires`, which empties exactly that lot, so running
//! expiry twice changes nothing.

use posd_plugin_sdk::Decimal;
use posd_plugin_sdk::schema::LedgerPosting;

use crate::date::Date;

/// Points of one day's earning still held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lot {
    /// The last day the points are valid; `None`: they never expire.
    pub expires: Option<Date>,
    /// Points left in it.
    pub left: Decimal,
}

/// A customer's balance in one programme, as lots and a debt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holdings {
    /// Lots with points left, in the order they came.
    pub lots: Vec<Lot>,
    /// Points owed (not negative): taken back after they had been spent.
    pub debt: Decimal,
}

impl Holdings {
    /// Replays `postings` given newest first, as `ledger.postings` answers. `balance` is the
    /// account's balance; what it holds beyond the postings read (an account with more
    /// history than was read) is taken as one lot older than every other, expiring with the
    /// oldest lot read.
    pub fn replay(postings: &[LedgerPosting], balance: Decimal) -> Holdings {
        let read: Decimal = postings.iter().map(|p| p.amount).sum();
        let mut holdings = Holdings::default();
        let opening = balance - read;
        let oldest_expiry = postings
            .iter()
            .rev()
            .find(|p| p.amount > Decimal::ZERO)
            .and_then(|p| p.expires.as_deref().and_then(Date::parse));
        if opening > Decimal::ZERO {
            holdings.add(opening, oldest_expiry);
        } else if opening < Decimal::ZERO {
            holdings.debt = -opening;
        }
        for posting in postings.iter().rev() {
            let expires = posting.expires.as_deref().and_then(Date::parse);
            if posting.amount > Decimal::ZERO {
                holdings.add(posting.amount, expires);
            } else if posting.amount < Decimal::ZERO {
                holdings.take(-posting.amount, expires);
            }
        }
        holdings
    }

    /// Adds a lot, paying off the debt first.
    pub fn add(&mut self, points: Decimal, expires: Option<Date>) {
        let paid = points.min(self.debt);
        self.debt -= paid;
        let left = points - paid;
        if left > Decimal::ZERO {
            self.lots.push(Lot { expires, left });
        }
    }

    /// Takes `points`: from the lots of `target` day first, then the lot expiring first;
    /// returns what each lot gave (its expiry and the points); the rest becomes debt.
    pub fn take(&mut self, points: Decimal, target: Option<Date>) -> Vec<Lot> {
        let mut wanted = points;
        let mut taken = Vec::new();
        if target.is_some() {
            for lot in self.lots.iter_mut().filter(|l| l.expires == target) {
                let part = lot.left.min(wanted);
                if part > Decimal::ZERO {
                    lot.left -= part;
                    wanted -= part;
                    taken.push(Lot {
                        expires: lot.expires,
                        left: part,
                    });
                }
            }
        }
        while wanted > Decimal::ZERO {
            let Some(index) = self
                .lots
                .iter()
                .enumerate()
                .filter(|(_, l)| l.left > Decimal::ZERO)
                .min_by_key(|(i, l)| (l.expires.is_none(), l.expires, *i))
                .map(|(i, _)| i)
            else {
                break;
            };
            let lot = &mut self.lots[index];
            let part = lot.left.min(wanted);
            lot.left -= part;
            wanted -= part;
            taken.push(Lot {
                expires: lot.expires,
                left: part,
            });
        }
        self.debt += wanted;
        self.lots.retain(|l| l.left > Decimal::ZERO);
        taken
    }

    /// The lots that have expired by `today` (valid through their `expires` day), merged per day.
    pub fn expired(&self, today: Date) -> Vec<Lot> {
        let mut expired: Vec<Lot> = Vec::new();
        for lot in &self.lots {
            let Some(day) = lot.expires.filter(|d| *d < today) else {
                continue;
            };
            match expired.iter_mut().find(|e| e.expires == Some(day)) {
                Some(e) => e.left += lot.left,
                None => expired.push(Lot {
                    expires: Some(day),
                    left: lot.left,
                }),
            }
        }
        expired.sort_by_key(|l| l.expires);
        expired
    }

    /// Removes the expired lots (after their expiry is posted).
    pub fn drop_expired(&mut self, today: Date) {
        self.lots
            .retain(|l| l.expires.is_none_or(|day| day >= today));
    }

    /// What the customer may spend: the lots' points, less the debt (not negative).
    pub fn spendable(&self) -> Decimal {
        let held: Decimal = self.lots.iter().map(|l| l.left).sum();
        (held - self.debt).max(Decimal::ZERO)
    }

    /// The next day points expire on, and how many.
    pub fn next_expiry(&self) -> Option<(Date, Decimal)> {
        let day = self.lots.iter().filter_map(|l| l.expires).min()?;
        let points = self
            .lots
            .iter()
            .filter(|l| l.expires == Some(day))
            .map(|l| l.left)
            .sum();
        Some((day, points))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn day(text: &str) -> Date {
        Date::parse(text).unwrap()
    }

    /// Postings oldest first as (amount, expires), given to replay newest first.
    fn replay(postings: &[(&str, Option<&str>)]) -> Holdings {
        let list: Vec<LedgerPosting> = postings
            .iter()
            .rev()
            .map(|(amount, expires)| LedgerPosting {
                amount: d(amount),
                expires: expires.map(str::to_string),
                ..LedgerPosting::default()
            })
            .collect();
        let balance = postings.iter().map(|(a, _)| d(a)).sum();
        Holdings::replay(&list, balance)
    }

    #[test]
    fn a_redemption_spends_the_oldest_points_and_the_rest_expires_on_its_day() {
        let h = replay(&[
            ("100", Some("2027-01-15")),
            ("50", Some("2027-03-01")),
            ("-120", None),
        ]);
        assert_eq!(
            h.lots,
            [Lot {
                expires: Some(day("2027-03-01")),
                left: d("30")
            }]
        );
        assert!(
            h.expired(day("2027-03-01")).is_empty(),
            "valid through its day"
        );
        assert_eq!(h.expired(day("2027-03-02"))[0].left, d("30"));
    }

    #[test]
    fn an_expiry_posted_empties_exactly_its_lot_so_it_is_not_posted_twice() {
        let h = replay(&[
            ("100", Some("2027-01-15")),
            ("40", Some("2027-06-01")),
            ("-100", Some("2027-01-15")),
        ]);
        assert!(h.expired(day("2027-02-01")).is_empty());
        assert_eq!(h.spendable(), d("40"));
    }

    #[test]
    fn a_reversal_takes_its_own_days_points_and_a_debt_is_paid_off_by_the_next_earning() {
        // Earned 100 (Jan) and 30 (Feb), spent 120, then the 100 sale voided: 10 of the
        // Feb points are left, so −100 on Jan takes 0 from Jan, 10 from Feb, 90 debt.
        let h = replay(&[
            ("100", Some("2027-01-15")),
            ("30", Some("2027-02-15")),
            ("-120", None),
            ("-100", Some("2027-01-15")),
        ]);
        assert!(h.lots.is_empty());
        assert_eq!(h.debt, d("90"));
        let mut later = h.clone();
        later.add(d("100"), Some(day("2027-05-01")));
        assert_eq!(later.debt, Decimal::ZERO);
        assert_eq!(later.spendable(), d("10"));
    }

    #[test]
    fn a_voided_sales_earning_comes_off_its_own_lot_not_the_oldest() {
        let h = replay(&[
            ("100", Some("2027-01-15")),
            ("30", Some("2027-02-15")),
            ("-30", Some("2027-02-15")),
        ]);
        assert_eq!(h.next_expiry(), Some((day("2027-01-15"), d("100"))));
    }
}
