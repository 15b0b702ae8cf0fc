//! The `shopdesk` command: serve the dashboard, migrate, or load demo data.

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
        /// Do not load demo data into an empty database.
        #[arg(long)]
        no_demo: bool,
    },
    /// Create the database if needed and apply pending migrations.
    Migrate,
    /// Load the demo shop (does nothing if it is already loaded).
    Seed,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let cli = Cli::parse();
    let figment = shopdesk::figment();
    rocket::execute(run(cli.command.unwrap_or(Command::Serve { no_demo: false }), figment))
}

async fn run(command: Command, figment: Figment) -> ExitCode {
    let url = shopdesk::database_url(&figment);
    if let Err(e) = shopdesk::db::ensure_database(&url).await {
        eprintln!("{}", unreachable_message(&url, &e));
        return ExitCode::FAILURE;
    }
    match command {
        Command::Serve { no_demo } => {
            let figment = if no_demo { figment.merge(Serialized::global("demo", false)) } else { figment };
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
