//! Printable documents of an order: the invoice and the packing slip, and
//! the packing slips of many orders as one document. Each is a page of its
//! own, without the app's navigation, laid out for A4 and Letter paper
//! (`static/print.css`); "Save as PDF" in the browser's print dialog makes
//! the PDF.

use crate::web::read::PageConn;
use askama::Template;
use askama_web::WebTemplate;
use rocket::figment::Figment;
use rocket::{get, State};
use serde::Deserialize;

use crate::db::invoices::{self, Invoice, Slip, SLIPS_PER_BATCH};
use crate::db::orders::{self, Line, Order};
use crate::db::refunds::{self, Refund};
use crate::domain::Money;
use crate::web::{filters, AppError, Chrome};

/// The shop as its documents name it: `[default.shop]` in Rocket.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ShopConfig {
    pub name: String,
    /// The address, one entry per printed line.
    pub address: Vec<String>,
    /// A single tax rate, included in the prices (as shops selling to
    /// consumers quote them); no tax line when unset.
    pub tax_rate_percent: Option<f64>,
    /// Put in front of every invoice number: `INV-` gives `INV-000042`.
    pub invoice_prefix: String,
}

impl Default for ShopConfig {
    fn default() -> ShopConfig {
        ShopConfig {
            name: "Shopdesk".into(),
            address: Vec::new(),
            tax_rate_percent: None,
            invoice_prefix: "INV-".into(),
        }
    }
}

impl ShopConfig {
    /// The shop's settings; an unreadable `[shop]` block is logged and the
    /// defaults are used, so a typo never keeps the shop from opening.
    pub fn from_figment(figment: &Figment) -> ShopConfig {
        match figment.extract_inner::<ShopConfig>("shop") {
            Ok(shop) => shop,
            Err(e) if e.missing() => ShopConfig::default(),
            Err(e) => {
                tracing::error!(error = %e, "the [shop] settings are unreadable; using the defaults");
                ShopConfig::default()
            }
        }
    }

    /// The tax rate in hundredths of a percent (`20.0` → 2000), if one is set
    /// and sensible (0 to 100 %).
    fn tax_basis_points(&self) -> Option<i64> {
        self.tax_rate_percent.filter(|r| r.is_finite() && (0.0..=100.0).contains(r)).map(|r| (r * 100.0).round() as i64)
    }

    /// The tax contained in `gross` (a price including tax), rounded to the cent.
    pub fn tax_included_in(&self, gross: Money) -> Option<Money> {
        let bp = self.tax_basis_points()?;
        let cents = (i128::from(gross.cents()) * i128::from(bp) * 2 + (10_000 + i128::from(bp)))
            / (2 * (10_000 + i128::from(bp)));
        Some(Money::from_cents(i64::try_from(cents).unwrap_or(0)))
    }

    /// The rate as printed: `20%`, `8.25%`.
    pub fn tax_rate_text(&self) -> String {
        let bp = self.tax_basis_points().unwrap_or(0);
        if bp % 100 == 0 {
            format!("{}%", bp / 100)
        } else {
            format!("{}%", format!("{}.{:02}", bp / 100, bp % 100).trim_end_matches('0'))
        }
    }

    /// An invoice number as printed: `INV-000042`.
    pub fn invoice_number(&self, invoice: &Invoice) -> String {
        format!("{}{:06}", self.invoice_prefix, invoice.number)
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "orders/invoice.html")]
pub struct InvoicePage {
    chrome: Chrome,
    shop: ShopConfig,
    order: Order,
    lines: Vec<Line>,
    refunds: Vec<Refund>,
    invoice: Invoice,
}

impl InvoicePage {
    fn number(&self) -> String {
        self.shop.invoice_number(&self.invoice)
    }

    fn tax(&self) -> Option<Money> {
        self.shop.tax_included_in(self.order.net_cents())
    }
}

/// The order's invoice, issued (numbered) the first time any staff member
/// opens it.
#[get("/orders/<id>/invoice")]
pub async fn invoice(
    mut db: PageConn,
    chrome: Chrome,
    shop: &State<ShopConfig>,
    id: i64,
) -> Result<InvoicePage, AppError> {
    let order = orders::find(&mut db, id).await?.ok_or(AppError::NotFound)?;
    let actor = chrome.staff.as_ref().map(|s| s.id);
    let invoice = invoices::issue(&mut db, actor, id).await?.ok_or(AppError::NotFound)?;
    let lines = orders::lines(&mut db, id).await?;
    let refunds = refunds::refunds_of(&mut db, id).await?;
    Ok(InvoicePage { chrome, shop: shop.inner().clone(), order, lines, refunds, invoice })
}

#[derive(Template, WebTemplate)]
#[template(path = "orders/packing_slip.html")]
pub struct SlipsPage {
    chrome: Chrome,
    shop: ShopConfig,
    slips: Vec<Slip>,
    /// Why fewer slips than asked for are printed, if so.
    notice: Option<String>,
    title: String,
}

/// One order's packing slip.
#[get("/orders/<id>/packing-slip")]
pub async fn packing_slip(
    mut db: PageConn,
    chrome: Chrome,
    shop: &State<ShopConfig>,
    id: i64,
) -> Result<SlipsPage, AppError> {
    let slips = invoices::slips(&mut db, &[id]).await?;
    if slips.is_empty() {
        return Err(AppError::NotFound);
    }
    Ok(SlipsPage { chrome, shop: shop.inner().clone(), slips, notice: None, title: format!("Packing slip #{id}") })
}

/// The packing slips of the orders ticked on the orders list, one per page.
#[get("/orders/packing-slips?<ids>")]
pub async fn packing_slips(
    mut db: PageConn,
    chrome: Chrome,
    shop: &State<ShopConfig>,
    ids: Vec<String>,
) -> Result<SlipsPage, AppError> {
    let (ids, notice) = chosen_ids(&ids);
    let slips = invoices::slips(&mut db, &ids).await?;
    let notice = notice.or_else(|| {
        (slips.len() < ids.len())
            .then(|| format!("{} of the ticked orders no longer exist and are left out.", ids.len() - slips.len()))
    });
    let title = format!("Packing slips ({})", slips.len());
    Ok(SlipsPage { chrome, shop: shop.inner().clone(), slips, notice, title })
}

/// The distinct order ids ticked, at most [`SLIPS_PER_BATCH`], with a
/// message when some were left out or none was ticked.
fn chosen_ids(raw: &[String]) -> (Vec<i64>, Option<String>) {
    let mut ids: Vec<i64> = Vec::new();
    for id in raw.iter().filter_map(|s| s.trim().parse::<i64>().ok()).filter(|id| *id > 0) {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.is_empty() {
        return (
            ids,
            Some("No orders were ticked: tick the orders on the orders list, then press Print packing slips.".into()),
        );
    }
    if ids.len() > SLIPS_PER_BATCH {
        let asked = ids.len();
        ids.truncate(SLIPS_PER_BATCH);
        return (
            ids,
            Some(format!(
                "Only the first {SLIPS_PER_BATCH} of the {asked} ticked orders are printed here; print the rest in another batch."
            )),
        );
    }
    (ids, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn included_tax_is_rounded_to_the_cent() {
        let shop = ShopConfig { tax_rate_percent: Some(20.0), ..ShopConfig::default() };
        assert_eq!(shop.tax_included_in(Money::from_cents(12_000)), Some(Money::from_cents(2_000)));
        assert_eq!(shop.tax_included_in(Money::from_cents(1_000)), Some(Money::from_cents(167)));
        assert_eq!(shop.tax_rate_text(), "20%");
        let odd = ShopConfig { tax_rate_percent: Some(8.25), ..ShopConfig::default() };
        assert_eq!(odd.tax_rate_text(), "8.25%");
        assert_eq!(ShopConfig::default().tax_included_in(Money::from_cents(1_000)), None);
        let silly = ShopConfig { tax_rate_percent: Some(-3.0), ..ShopConfig::default() };
        assert_eq!(silly.tax_included_in(Money::from_cents(1_000)), None);
    }

    #[test]
    fn ticked_ids_are_deduplicated_and_capped() {
        let (ids, notice) = chosen_ids(&["3".into(), "x".into(), "3".into(), "7".into()]);
        assert_eq!(ids, vec![3, 7]);
        assert!(notice.is_none());
        let many: Vec<String> = (1..=250).map(|i| i.to_string()).collect();
        let (ids, notice) = chosen_ids(&many);
        assert_eq!(ids.len(), SLIPS_PER_BATCH);
        assert!(notice.is_some_and(|n| n.contains("first 200 of the 250")));
        assert!(chosen_ids(&[]).1.is_some());
    }
}
