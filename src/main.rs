//! The `shopdesk` command: serve the dashboard, migrate, load demo data, or
//! import customers and products from a file.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rocket::figment::providers::Serialized;
use rocket::figment::Figment;

#[derive(Parser)]
#[command(name = "shopdesk", version, about = "Admin dashboard for a small shop's customers, products and orders")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Create and migrate the database if needed, then serve the dashboard (the default).
    Serve {
        /// Serve a demo: load the demo shop, with its published read-only
        /// login, into an empty database (the default only for `cargo run`).
        #[arg(long, conflicts_with = "no_demo")]
        demo: bool,
        /// Do not load demo data, even in a debug build.
        #[arg(long)]
        no_demo: bool,
    },
    /// Create the database if needed and apply pending migrations.
    Migrate,
    /// Load the demo shop (does nothing if it is already loaded).
    Seed,
    /// Add synthetic customers, products and orders in bulk (for trying
    /// Shopdesk at scale and for benchmarks).
    Generate {
        #[arg(long, default_value_t = 100_000)]
        users: u64,
        #[arg(long, default_value_t = 10_000)]
        products: u64,
        #[arg(long, default_value_t = 1_000_000)]
        orders: u64,
        /// Seed for the random generator: the same seed gives the same data.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Recompute every report figure from the orders and list any difference.
    VerifyStats,
    /// Import customers or products from a CSV or XLSX file: the same
    /// checks as the Import page, columns guessed from the headers. Valid
    /// rows are committed (unless --dry-run) and invalid ones listed. Exit
    /// status: 0 all rows valid, 3 some rows invalid (the others imported),
    /// 2 nothing imported (unreadable file, no key column, data changed).
    Import {
        /// What the file holds.
        #[arg(value_parser = ["customers", "products"])]
        target: String,
        /// The CSV or XLSX file.
        file: std::path::PathBuf,
        /// Show what would change, and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// The worksheet of an XLSX file to read (the first by default).
        #[arg(long)]
        sheet: Option<String>,
    },
    /// Add a staff account. The password is read from standard input, or
    /// asked for when run in a terminal; never pass it as an argument.
    CreateStaff {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = ["admin", "viewer"])]
        role: String,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let cli = Cli::parse();
    let figment = shopdesk::figment();
    rocket::execute(run(cli.command.unwrap_or(Command::Serve { demo: false, no_demo: false }), figment))
}

async fn run(command: Command, figment: Figment) -> ExitCode {
    if let Command::Serve { .. } = command {
        match shopdesk::config_file() {
            Some(path) => println!("shopdesk: configuration from {}", path.display()),
            None => println!(
                "shopdesk: no Rocket.toml found (here, in a folder above, or next to the binary); \
                 using built-in defaults and environment variables"
            ),
        }
    }
    let url = shopdesk::database_url(&figment);
    if let Err(e) = shopdesk::db::ensure_database(&url).await {
        eprintln!("{}", unreachable_message(&url, &e));
        return ExitCode::FAILURE;
    }
    match command {
        Command::Serve { demo, no_demo } => {
            let figment = match (demo, no_demo) {
                (true, _) => figment.merge(Serialized::global("demo", true)),
                (_, true) => figment.merge(Serialized::global("demo", false)),
                _ => figment,
            };
            if shopdesk::demo_enabled(&figment) {
                println!(
                    "shopdesk: serving as a demo: an empty shop gets demo data and the published read-only login {}",
                    shopdesk::demo::DEMO_VIEWER_EMAIL
                );
            }
            let config = rocket::Config::from(&figment);
            if config.profile != rocket::Config::DEBUG_PROFILE && !config.secret_key.is_provided() {
                eprintln!(
                    "shopdesk: a release build needs a secret key to encrypt session cookies. Set one with \
                     ROCKET_SECRET_KEY=\"$(openssl rand -base64 32)\", or add secret_key = \"...\" under \
                     [release] in Rocket.toml, and start again."
                );
                return ExitCode::FAILURE;
            }
            if let Err(e) = bootstrap_admin(&figment).await {
                eprintln!("shopdesk: {e}");
                return ExitCode::FAILURE;
            }
            match shopdesk::build_rocket(figment).launch().await {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("shopdesk: could not start: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Migrate => match migrate(&figment).await {
            Ok(pool) => {
                pool.close().await;
                println!("Migrations applied.");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("shopdesk: {e}");
                ExitCode::FAILURE
            }
        },
        Command::CreateStaff { email, name, role } => match create_staff(&figment, email, name, &role).await {
            Ok(message) => {
                println!("{message}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("shopdesk: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Generate { users, products, orders, seed } => {
            let sizes = shopdesk::generate::Sizes { users, products, orders };
            let pool = match migrate(&figment).await {
                Ok(pool) => pool,
                Err(e) => {
                    eprintln!("shopdesk: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let outcome = match pool.acquire().await {
                Ok(mut conn) => shopdesk::generate::generate(&mut conn, sizes, seed, true).await,
                Err(e) => Err(e),
            };
            pool.close().await;
            match outcome {
                Ok(summary) => {
                    println!("{summary}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("shopdesk: could not generate data: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Import { target, file, dry_run, sheet } => {
            match import(&figment, &target, &file, dry_run, sheet.as_deref()).await {
                Ok(code) => code,
                Err(e) => {
                    eprintln!("shopdesk: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::VerifyStats => match verify_stats(&figment).await {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(2),
            Err(e) => {
                eprintln!("shopdesk: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Seed => {
            let pool = match migrate(&figment).await {
                Ok(pool) => pool,
                Err(e) => {
                    eprintln!("shopdesk: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let outcome = shopdesk::demo::seed(&pool).await;
            pool.close().await;
            match outcome {
                Ok(Some(summary)) => println!("{summary}"),
                Ok(None) => println!("Demo data is already loaded; nothing to do."),
                Err(e) => {
                    eprintln!("shopdesk: could not load demo data: {e}");
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
    }
}

/// Prints whether the kept figures match the orders; `Ok(false)` if not.
/// `shopdesk import`: reads, checks and (unless `dry_run`) commits a file
/// with the code the Import page uses, printing a summary.
async fn import(
    figment: &Figment,
    target: &str,
    file: &std::path::Path,
    dry_run: bool,
    sheet: Option<&str>,
) -> Result<ExitCode, String> {
    use shopdesk::db::imports::{self, Committed};
    use shopdesk::import::{read, validate, Mapping, Target};
    let target = Target::parse(target).ok_or("import customers or products")?;
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "import.csv".into());
    let table = read::read(&bytes, &name, sheet).map_err(|e| format!("{name}: {e}"))?;
    drop(bytes);
    for note in &table.notes {
        println!("{note}");
    }
    let mapping = Mapping::guess(target, &table.header);
    if let Some(problem) = mapping.problem(target, table.header.len()) {
        return Err(format!("{problem} The header row is: {}", table.header.join(", ")));
    }
    for &field in target.fields() {
        match mapping.column(field) {
            Some(c) => println!("{:>6} ← column “{}”", field.label(), table.header[c]),
            None => println!("{:>6} ← not in the file", field.label()),
        }
    }
    let bar = indicatif::ProgressBar::new(table.rows.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:>10} [{bar:40.green/white}] {pos}/{len} ({per_sec})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message("checking");
    let checked = validate::check(target, &table, &mapping, &mut |done| bar.set_position(done as u64));
    bar.set_message("matching");
    let pool = migrate(figment).await?;
    let mut conn = pool.acquire().await.map_err(|e| format!("could not connect to the database: {e}"))?;
    let run = imports::dry_run(&mut conn, target, checked).await.map_err(|e| format!("dry run failed: {e}"))?;
    bar.finish_and_clear();
    let plan = &run.plan;
    let count = |n: usize| shopdesk::domain::group_digits(n as u64);
    println!(
        "{}: {} new, {} updated, {} unchanged, {} invalid",
        name,
        count(plan.new.len()),
        count(plan.updated.len()),
        count(plan.unchanged),
        count(plan.invalid.len())
    );
    for invalid in plan.invalid.iter().take(20) {
        println!("  row {}: {}", invalid.row, invalid.sentence());
    }
    if plan.invalid.len() > 20 {
        println!("  … and {} more invalid rows", count(plan.invalid.len() - 20));
    }
    let status = if plan.invalid.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(3) };
    if dry_run {
        println!("Dry run: nothing was changed.");
        return Ok(status);
    }
    if plan.new.is_empty() && plan.updated.is_empty() {
        println!("Nothing to import.");
        return Ok(status);
    }
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.set_message("committing");
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let outcome = imports::commit(&mut conn, None, None, &name, &run).await;
    spinner.finish_and_clear();
    match outcome.map_err(|e| format!("nothing was imported: {e}"))? {
        Committed::Done { change_set, new, updated } => {
            println!(
                "{} (change set {change_set}).",
                shopdesk::import::summary(&name, new, updated, run.plan.invalid.len())
            );
            Ok(status)
        }
        Committed::Stale | Committed::AlreadyCommitted => {
            Err("nothing was imported: the matched records changed while importing; run it again".into())
        }
    }
}

async fn verify_stats(figment: &Figment) -> Result<bool, String> {
    let pool = migrate(figment).await?;
    let mut conn = pool.acquire().await.map_err(|e| e.to_string())?;
    let differences = shopdesk::db::stats::verify(&mut conn).await.map_err(|e| e.to_string())?;
    drop(conn);
    pool.close().await;
    if differences.is_empty() {
        println!("All report figures match the orders exactly.");
        return Ok(true);
    }
    println!("{} report figure(s) differ from what the orders add up to:", differences.len());
    for d in &differences {
        println!("  {d}");
    }
    println!("Run `SELECT stats_rebuild()` in psql to recompute them.");
    Ok(false)
}

/// With no staff at all, creates the first admin so someone can sign in.
async fn bootstrap_admin(figment: &Figment) -> Result<(), String> {
    let pool = migrate(figment).await?;
    let mut conn = pool.acquire().await.map_err(|e| e.to_string())?;
    let existing = shopdesk::db::staff::count(&mut conn).await.map_err(|e| e.to_string())?;
    if existing > 0 {
        drop(conn);
        pool.close().await;
        return Ok(());
    }
    let email = std::env::var("SHOPDESK_ADMIN_EMAIL").unwrap_or_else(|_| "admin@shopdesk.local".to_string());
    let (password, generated) = match std::env::var("SHOPDESK_ADMIN_PASSWORD") {
        Ok(p) if !p.is_empty() => (p, false),
        _ => (shopdesk::passwords::generate(), true),
    };
    shopdesk::passwords::check_strength(&password).map_err(|e| format!("SHOPDESK_ADMIN_PASSWORD is too weak: {e}"))?;
    let password_hash = shopdesk::passwords::hash_async(password.clone()).await?;
    let new = shopdesk::db::staff::NewStaff {
        email: shopdesk::domain::Email::parse(&email)
            .map_err(|e| format!("SHOPDESK_ADMIN_EMAIL is not usable: {e}"))?,
        display_name: "Administrator".into(),
        role: shopdesk::db::staff::Role::Admin,
        password_hash,
    };
    // Another instance starting at the same moment may have made it first.
    let created = shopdesk::create_first_admin(&pool, &new)
        .await
        .map_err(|e| format!("could not create the first admin: {e}"))?;
    if created && generated {
        println!(
            "\n  Created the first admin account.\n    email:    {email}\n    password: {password}\n  \
             This password is shown only once: sign in and keep it somewhere safe.\n"
        );
    } else if created {
        println!("Created the first admin account {email} with the password from SHOPDESK_ADMIN_PASSWORD.");
    }
    // Closing the pool waits for every connection to come back.
    drop(conn);
    pool.close().await;
    Ok(())
}

/// Reads a new password from standard input, or asks twice in a terminal.
fn read_password() -> Result<String, String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").map_err(|e| e.to_string())?;
        let second = rpassword::prompt_password("Repeat password: ").map_err(|e| e.to_string())?;
        if first != second {
            return Err("the two passwords differ".into());
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map_err(|e| e.to_string())?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

async fn create_staff(figment: &Figment, email: String, name: String, role: &str) -> Result<String, String> {
    let role = shopdesk::db::staff::Role::parse(role).ok_or("the role must be admin or viewer")?;
    let password = read_password()?;
    shopdesk::passwords::check_strength(&password)?;
    let password_hash = shopdesk::passwords::hash_async(password).await?;
    let pool = migrate(figment).await?;
    let mut conn = pool.acquire().await.map_err(|e| e.to_string())?;
    let new = shopdesk::db::staff::NewStaff {
        email: shopdesk::domain::Email::parse(&email).map_err(|_| "that is not a valid email address")?,
        display_name: name.trim().to_string(),
        role,
        password_hash,
    };
    let created = shopdesk::db::staff::create(&mut conn, None, &new).await;
    drop(conn);
    pool.close().await;
    match created {
        Ok(id) => Ok(format!("Created {} account #{id} for {}.", role.as_str(), new.email)),
        Err(shopdesk::db::DbError::Constraint { constraint }) => Err(match constraint.as_str() {
            "staff_email_key" => "a staff account with this email already exists".into(),
            "staff_email_valid" => "that is not a valid email address".into(),
            "staff_name_present" => "the name must not be empty".into(),
            other => format!("refused by {other}"),
        }),
        Err(e) => Err(e.to_string()),
    }
}

async fn migrate(figment: &Figment) -> Result<sqlx::PgPool, String> {
    let pool = shopdesk::db::connect(figment).await.map_err(|e| format!("could not connect to the database: {e}"))?;
    shopdesk::db::migrate(&pool).await.map_err(|e| format!("could not apply migrations: {e}"))?;
    Ok(pool)
}

/// One paragraph that says what is wrong and how to fix it.
fn unreachable_message(url: &str, error: &sqlx::Error) -> String {
    let shown = match url.parse::<sqlx::postgres::PgConnectOptions>() {
        Ok(o) => format!("{}:{}", o.get_host(), o.get_port()),
        Err(_) => "the configured address".to_string(),
    };
    format!(
        "shopdesk: cannot reach PostgreSQL at {shown} ({error}). Start a database server and try again: \
         with Docker, run `docker compose up -d db` in the project folder; on Debian or Ubuntu, \
         `sudo apt-get install postgresql` then `sudo pg_ctlcluster <version> main start`. \
         To use another server, set DATABASE_URL (for example postgres://user@host:5432/shopdesk) \
         or `url` under [default.databases.shop] in Rocket.toml."
    )
}
