//! Shopdesk's integration tests: one binary, a module per area of the shop.
//! Every test gets its own freshly created database and an app built by the
//! same `build_rocket` that `main` uses (see `harness`), then acts through
//! HTTP as a browser does and checks what a person sees and what the
//! database holds. Run one area with `cargo test --test app orders::`.

mod harness;

mod alerts;
mod attack;
mod browser;
mod budget;
mod bulk;
mod dashboard;
mod exports_jobs;
mod forgery;
mod history;
mod hostile;
mod imports;
mod instances;
mod invoices;
mod jobs;
mod lists;
mod orders;
mod outage;
mod pages;
mod perf;
mod products;
mod proxy;
mod purchases;
mod refunds;
mod replica;
mod restore;
mod saved_views;
mod security;
mod shutdown;
mod stats;
mod stock;
mod time_zone;
mod two_factor;
mod undo;
mod users;
mod xlsx;
