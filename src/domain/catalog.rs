//! R30: the catalog as data. Offers, the benefit types each provides, the Visual Studio levels
//! and counts, and the program constants, in versions with an effective date. The default is
//! embedded; `--catalog FILE` replaces it. No rule hard-codes a quantity, offset or date.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::event::{parse_date, BenefitType, Date, Line, Offer, ParseError, VsLevel};

/// The catalog shipped with the program (R30 Decision: one version, for every date).
pub const DEFAULT_CATALOG: &str = include_str!("default_catalog.json");

/// Largest catalog file accepted.
pub const MAX_CATALOG_BYTES: usize = 1 << 20;

/// The program constants of one catalog version (R30).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constants {
    pub term_months: u32,
    pub window_days: u32,
    pub activate_by_months: u32,
    pub benefit_expiry_months: u32,
    pub token_expiry_months: u32,
    pub replacement_days: u32,
    pub reassignment_days: u32,
    pub minimum_score: u64,
    pub qualification_months: u32,
    pub legacy_retirement: Date,
}

/// What one offer provides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferSpec {
    pub offer: Offer,
    pub line: Line,
    /// Benefit type → quantity, as text for people.
    pub benefits: BTreeMap<BenefitType, String>,
    pub vs_levels: Vec<VsLevel>,
    /// Visual Studio subscriptions per term; None: as many as the events assign.
    pub vs_count: Option<u32>,
    /// Last day the offer can be bought or renewed, if the program ended its sale.
    pub sale_ends: Option<Date>,
}

impl OfferSpec {
    pub fn provides(&self, benefit: BenefitType) -> bool {
        self.benefits.contains_key(&benefit)
    }
}

/// One version of the catalog, in force from `effective` until the next version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogVersion {
    pub effective: Date,
    /// Shared: every term started under this version refers to it.
    pub constants: std::sync::Arc<Constants>,
    pub offers: BTreeMap<Offer, OfferSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    /// Sorted by effective date; never empty.
    versions: Vec<CatalogVersion>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    #[serde(default)]
    #[allow(dead_code)]
    comment: Option<String>,
    versions: Vec<RawVersion>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVersion {
    effective: String,
    constants: RawConstants,
    offers: BTreeMap<Offer, RawOffer>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConstants {
    term_months: u32,
    window_days: u32,
    activate_by_months: u32,
    benefit_expiry_months: u32,
    token_expiry_months: u32,
    replacement_days: u32,
    reassignment_days: u32,
    minimum_score: u64,
    qualification_months: u32,
    legacy_retirement: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOffer {
    line: Line,
    benefits: BTreeMap<BenefitType, String>,
    visual_studio: RawVs,
    #[serde(default)]
    sale_ends: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVs {
    levels: Vec<VsLevel>,
    count: Option<u32>,
}

impl Catalog {
    /// The embedded default catalog.
    pub fn default_catalog() -> Catalog {
        // The embedded file is checked by a unit test; should it ever fail, fall back to the
        // same values built in code rather than panic.
        Catalog::parse(DEFAULT_CATALOG).unwrap_or_else(|_| Catalog::builtin())
    }

    /// Parses a catalog file.
    pub fn parse(text: &str) -> Result<Catalog, ParseError> {
        if text.len() > MAX_CATALOG_BYTES {
            return Err(ParseError::new(format!(
                "catalog is larger than {MAX_CATALOG_BYTES} bytes"
            )));
        }
        let raw: RawCatalog =
            serde_json::from_str(text).map_err(|e| ParseError::new(format!("catalog: {e}")))?;
        let mut versions = Vec::new();
        for v in raw.versions {
            versions.push(convert_version(v)?);
        }
        if versions.is_empty() {
            return Err(ParseError::new("catalog: it has no version"));
        }
        versions.sort_by_key(|v| v.effective);
        Ok(Catalog { versions })
    }

    /// R30: the version in force on `date` (the earliest version also covers earlier dates).
    pub fn at(&self, date: Date) -> &CatalogVersion {
        let later = self.versions.partition_point(|v| v.effective <= date);
        let index = later.saturating_sub(1);
        // `versions` is never empty (checked in `parse` and `builtin`).
        &self.versions[index.min(self.versions.len() - 1)]
    }

    pub fn versions(&self) -> &[CatalogVersion] {
        &self.versions
    }

    fn builtin() -> Catalog {
        let constants = Constants {
            term_months: 12,
            window_days: 30,
            activate_by_months: 13,
            benefit_expiry_months: 12,
            token_expiry_months: 12,
            replacement_days: 30,
            reassignment_days: 90,
            minimum_score: 70,
            qualification_months: 5,
            legacy_retirement: chrono::NaiveDate::from_ymd_opt(2022, 9, 30).unwrap_or_default(),
        };
        let mut offers = BTreeMap::new();
        for &offer in Offer::ALL {
            let mut benefits: BTreeMap<BenefitType, String> = BenefitType::ALL
                .iter()
                .map(|&b| (b, String::new()))
                .collect();
            let (levels, count) = if offer.line() == Line::ActionPack {
                benefits.remove(&BenefitType::Marketing);
                if offer == Offer::LearningActionPack {
                    benefits.remove(&BenefitType::OnPremisesSoftware);
                }
                (vec![VsLevel::Professional], Some(3))
            } else {
                (vec![VsLevel::Professional, VsLevel::Enterprise], None)
            };
            offers.insert(
                offer,
                OfferSpec {
                    offer,
                    line: offer.line(),
                    benefits,
                    vs_levels: levels,
                    vs_count: count,
                    sale_ends: None,
                },
            );
        }
        Catalog {
            versions: vec![CatalogVersion {
                effective: crate::event::min_date(),
                constants: std::sync::Arc::new(constants),
                offers,
            }],
        }
    }
}

impl CatalogVersion {
    /// The offer's entry, if this version sells it.
    pub fn offer(&self, offer: Offer) -> Option<&OfferSpec> {
        self.offers.get(&offer)
    }
}

fn convert_version(v: RawVersion) -> Result<CatalogVersion, ParseError> {
    let c = v.constants;
    let constants = Constants {
        term_months: c.term_months,
        window_days: c.window_days,
        activate_by_months: c.activate_by_months,
        benefit_expiry_months: c.benefit_expiry_months,
        token_expiry_months: c.token_expiry_months,
        replacement_days: c.replacement_days,
        reassignment_days: c.reassignment_days,
        minimum_score: c.minimum_score,
        qualification_months: c.qualification_months,
        legacy_retirement: parse_date(&c.legacy_retirement)
            .map_err(|e| ParseError::new(format!("catalog: legacy_retirement: {e}")))?,
    };
    let mut offers = BTreeMap::new();
    for (offer, raw) in v.offers {
        if raw.line != offer.line() {
            return Err(ParseError::new(format!(
                "catalog: {offer} belongs to the {} line (R4), not {}",
                offer.line(),
                raw.line
            )));
        }
        let sale_ends = raw
            .sale_ends
            .as_deref()
            .map(parse_date)
            .transpose()
            .map_err(|e| ParseError::new(format!("catalog: {offer}.sale_ends: {e}")))?;
        offers.insert(
            offer,
            OfferSpec {
                offer,
                line: raw.line,
                benefits: raw.benefits,
                vs_levels: raw.visual_studio.levels,
                vs_count: raw.visual_studio.count,
                sale_ends,
            },
        );
    }
    Ok(CatalogVersion {
        effective: parse_date(&v.effective)
            .map_err(|e| ParseError::new(format!("catalog: effective: {e}")))?,
        constants: std::sync::Arc::new(constants),
        offers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r30_default_catalog_parses_and_matches_the_table_of_rules_md() {
        let parsed = Catalog::parse(DEFAULT_CATALOG).expect("embedded catalog parses");
        let v = parsed.at(parse_date("2024-01-01").unwrap());
        let ap = v.offer(Offer::ActionPack).unwrap();
        assert!(!ap.provides(BenefitType::Marketing));
        assert!(ap.provides(BenefitType::OnPremisesSoftware));
        assert_eq!(ap.vs_count, Some(3));
        let laps = v.offer(Offer::LearningActionPack).unwrap();
        assert!(!laps.provides(BenefitType::OnPremisesSoftware));
        for offer in [
            Offer::SolutionsPartner,
            Offer::LegacyGold,
            Offer::LegacySilver,
        ] {
            assert_eq!(v.offer(offer).unwrap().benefits.len(), 6);
            assert!(v
                .offer(offer)
                .unwrap()
                .vs_levels
                .contains(&VsLevel::Enterprise));
        }
        assert_eq!(v.constants.minimum_score, 70);
        assert_eq!(
            v.constants.legacy_retirement,
            parse_date("2022-09-30").unwrap()
        );
        // The built-in fallback says the same as the file, apart from the quantity texts.
        let builtin = Catalog::builtin();
        let b = builtin.at(parse_date("2024-01-01").unwrap());
        assert_eq!(b.constants, v.constants);
        for (offer, spec) in &v.offers {
            let bs = &b.offers[offer];
            assert_eq!(
                bs.benefits.keys().collect::<Vec<_>>(),
                spec.benefits.keys().collect::<Vec<_>>()
            );
            assert_eq!(
                (bs.vs_levels.clone(), bs.vs_count),
                (spec.vs_levels.clone(), spec.vs_count)
            );
        }
    }

    #[test]
    fn r30_a_later_version_applies_from_its_effective_date() {
        let mut text: serde_json::Value = serde_json::from_str(DEFAULT_CATALOG).unwrap();
        let mut later = text["versions"][0].clone();
        later["effective"] = "2025-01-22".into();
        later["offers"]["action_pack"]["sale_ends"] = "2025-01-21".into();
        text["versions"].as_array_mut().unwrap().push(later);
        let catalog = Catalog::parse(&text.to_string()).unwrap();
        let before = catalog.at(parse_date("2025-01-21").unwrap());
        let after = catalog.at(parse_date("2025-01-22").unwrap());
        assert_eq!(before.offer(Offer::ActionPack).unwrap().sale_ends, None);
        assert_eq!(
            after.offer(Offer::ActionPack).unwrap().sale_ends,
            Some(parse_date("2025-01-21").unwrap())
        );
    }

    #[test]
    fn r30_catalog_rejects_an_offer_on_the_wrong_line() {
        let text =
            DEFAULT_CATALOG.replacen("\"line\": \"package\"", "\"line\": \"action_pack\"", 1);
        assert!(Catalog::parse(&text).is_err());
    }
}
